"""`workbench bench`, `runs` and `devices` run in a subprocess as a user would run them.

Every command that could save a run gets ``--runs-dir`` under a temporary folder, so nothing is
written into the repository's ./runs. ``--threads 1`` keeps the tiny models quick on busy machines.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run_cli

FAST = ("--min-iters", "2", "--min-seconds", "0", "--warmup", "0", "--threads", "1")


def assert_clean_error(result, *fragments: str) -> None:
    """Exit status 2 and one paragraph on stderr that starts with 'error:', with no traceback."""
    assert result.returncode == 2, result.stderr
    stderr = result.stderr.strip()
    assert stderr.startswith("error:"), stderr
    assert stderr.count("error:") == 1, stderr
    assert "\n\n" not in stderr
    assert "Traceback" not in result.stderr
    flat = " ".join(stderr.split())
    for fragment in fragments:
        assert fragment in flat, flat


def saved_run_id(stdout: str) -> str:
    """The id in the 'saved as run ID' line of `bench`."""
    match = re.search(r"saved as run (\S+)", stdout)
    assert match, stdout
    return match.group(1)


@dataclass
class Sweeps:
    """Two benchmark runs made through the CLI into one runs folder."""

    runs_dir: Path
    bert_id: str
    bert_stdout: str
    bert_records: list[dict]
    llama_id: str
    llama_records: list[dict]


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory) -> Sweeps:
    """Bench tiny-bert (fp32, int8 at batch 1 and 2) and tiny-llama (4 new tokens) once."""
    folder = tmp_path_factory.mktemp("bench-cli")
    runs_dir = folder / "runs"
    bert = run_cli(
        "bench", "tiny-bert", "--batch", "1,2", "--seq-len", "8", "--variants", "fp32,int8",
        *FAST, "--runs-dir", str(runs_dir), "--json", str(folder / "bert.json"),
    )  # fmt: skip
    assert bert.returncode == 0, bert.stderr
    llama = run_cli(
        "bench", "tiny-llama", "--max-new-tokens", "4", "--quality-items", "1",
        *FAST, "--runs-dir", str(runs_dir), "--json", str(folder / "llama.json"),
    )  # fmt: skip
    assert llama.returncode == 0, llama.stderr
    return Sweeps(
        runs_dir=runs_dir,
        bert_id=saved_run_id(bert.stdout),
        bert_stdout=bert.stdout,
        bert_records=json.loads((folder / "bert.json").read_text()),
        llama_id=saved_run_id(llama.stdout),
        llama_records=json.loads((folder / "llama.json").read_text()),
    )


# bench


def test_bench_prints_a_table_of_both_variants_and_the_run_id(sweeps):
    """`bench tiny-bert` prints a header with p50_ms, rows for fp32 and int8, and the saved run."""
    lines = sweeps.bert_stdout.splitlines()

    assert lines[0].split()[:2] == ["variant", "dtype"]
    assert "p50_ms" in lines[0].split()
    assert [line.split()[0] for line in lines[1:5]] == ["fp32", "fp32", "int8", "int8"]
    assert f"saved as run {sweeps.bert_id}" in sweeps.bert_stdout


def test_bench_json_has_one_record_per_point_with_figures_and_drift(sweeps):
    """--json holds 4 records with variant, batch, latency, throughput, memory and cosine_min."""
    records = sweeps.bert_records

    assert [(r["variant"], r["batch"]) for r in records] == [
        ("fp32", 1),
        ("fp32", 2),
        ("int8", 1),
        ("int8", 2),
    ]
    for record in records:
        for key in ("p50_ms", "p95_ms", "throughput", "peak_rss_mb", "cosine_min"):
            assert isinstance(record[key], float), (key, record[key])
    assert [r["cosine_min"] for r in records[:2]] == [1.0, 1.0]


def test_bench_generation_json_has_token_timings_and_agreement(sweeps):
    """`bench tiny-llama --json` records have ttft_ms, tpot_ms, tokens_per_s and agreement."""
    (record,) = sweeps.llama_records

    for key in ("ttft_ms", "tpot_ms", "tokens_per_s", "agreement"):
        assert isinstance(record[key], float), (key, record[key])
    assert record["output_tokens"] == 4
    assert record["agreement"] == 1.0


# runs


def test_runs_list_shows_both_runs_complete(sweeps):
    """`runs list` shows the tiny-bert and tiny-llama run ids, each marked complete."""
    result = run_cli("runs", "list", "--runs-dir", str(sweeps.runs_dir))

    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    assert "complete" in rows[sweeps.bert_id]
    assert "complete" in rows[sweeps.llama_id]


def test_runs_show_prints_the_run_and_its_points(sweeps):
    """`runs show ID` names the run, its status and prints its points table."""
    result = run_cli("runs", "show", sweeps.bert_id, "--runs-dir", str(sweeps.runs_dir))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"run {sweeps.bert_id} (bench, complete)")
    assert "\npoints:\n" in result.stdout
    assert "int8" in result.stdout


def test_runs_compare_stacks_both_runs(sweeps):
    """`runs compare ID1 ID2` prints one table with 4 tiny-bert rows and 1 tiny-llama row."""
    result = run_cli(
        "runs", "compare", sweeps.bert_id, sweeps.llama_id, "--runs-dir", str(sweeps.runs_dir)
    )

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] == "run_id"
    assert [line.split()[0] for line in lines[1:]] == [sweeps.bert_id] * 4 + [sweeps.llama_id]


# devices


def test_devices_list_includes_raspberry_pi_5():
    """`devices list` prints the catalog with raspberry-pi-5 as a row."""
    result = run_cli("devices", "list")

    assert result.returncode == 0, result.stderr
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert "raspberry-pi-5" in names


def test_devices_project_prints_estimates_for_the_device(sweeps):
    """`devices project ID --device raspberry-pi-5` says ESTIMATES and projects every point."""
    result = run_cli(
        "devices", "project", sweeps.bert_id, "--device", "raspberry-pi-5",
        "--runs-dir", str(sweeps.runs_dir),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"ESTIMATES (roofline projection of run {sweeps.bert_id}")
    assert sum("raspberry-pi-5" in line for line in lines[2:]) == 4


# Bad input: exit 2, one paragraph, no traceback


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (("--batch", "0"), ("`batch_sizes`", "--batch", "got 0")),
        (("--batch", "abc"), ("--batch", "'abc'")),
        (("--seq-len", "-1"), ("`seq_lens`", "--seq-len", "got -1")),
        (("--variants", "fp33"), ("'fp33'", "Did you mean 'fp32'?")),
        (("--variants", "static-cache"), ("'static-cache'", "text-generation", "--variants")),
        (
            ("--min-seconds", "5", "--max-seconds", "1"),
            ("`min_seconds`", "`max_seconds`", "--max-seconds"),
        ),
    ],
    ids=["batch-0", "batch-abc", "seq-len-negative", "fp33", "static-cache", "min-above-max"],
)
def test_bench_bad_input_is_one_clean_error(tmp_path, flags, fragments):
    """Each bad `bench tiny-bert` flag exits 2 with one 'error:' paragraph naming the problem."""
    runs_dir = tmp_path / "runs"

    result = run_cli("bench", "tiny-bert", *FAST, *flags, "--runs-dir", str(runs_dir))

    assert_clean_error(result, *fragments)
    assert not runs_dir.exists() or list(runs_dir.iterdir()) == []


def test_bench_runs_dir_under_a_file_is_one_clean_error(tmp_path):
    """--runs-dir inside a regular file exits 2, saying that file is in the way."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")

    result = run_cli("bench", "tiny-bert", *FAST, "--runs-dir", str(blocker / "runs"))

    assert_clean_error(result, "is a file", "--runs-dir")
    assert blocker.read_text() == "not a folder"


def test_bench_runs_dir_error_prints_the_paths_unbroken(tmp_path):
    """The runs-dir error shows the runs dir and the blocking file each whole on one line."""
    # Prepare: a hyphenated path too long to share the first line with "error: The runs directory"
    filler = "-".join(["not-a-folder"] * 8)
    blocker = tmp_path / filler[: max(12, 85 - len(str(tmp_path)) - 1)]
    blocker.write_text("not a folder")
    runs_dir = blocker / "runs"

    # Execute
    result = run_cli("bench", "tiny-bert", *FAST, "--runs-dir", str(runs_dir))

    # Assert
    assert_clean_error(result)
    assert str(runs_dir) in result.stderr, result.stderr
    assert re.search(re.escape(str(blocker)) + r"\s+is a file", result.stderr), result.stderr


def test_runs_show_unknown_id_is_one_clean_error(tmp_path):
    """`runs show no-such-id` exits 2 with one error paragraph naming the id."""
    result = run_cli("runs", "show", "no-such-id", "--runs-dir", str(tmp_path / "runs"))

    assert_clean_error(result, "'no-such-id'")


def test_devices_project_unknown_device_is_one_clean_error(sweeps):
    """`devices project ID --device pi5` exits 2 naming 'pi5' and listing raspberry-pi-5."""
    result = run_cli(
        "devices", "project", sweeps.bert_id, "--device", "pi5",
        "--runs-dir", str(sweeps.runs_dir),
    )  # fmt: skip

    assert_clean_error(result, "Unknown device 'pi5'", "raspberry-pi-5")


def test_failing_bench_leaves_earlier_runs_complete(sweeps):
    """A bench that fails in the same runs folder adds no run and the earlier two stay complete."""
    # Execute
    failed = run_cli(
        "bench", "tiny-bert", "--seq-len", "10000", *FAST, "--runs-dir", str(sweeps.runs_dir)
    )
    listing = run_cli("runs", "list", "--json", "--runs-dir", str(sweeps.runs_dir))

    # Assert
    assert_clean_error(failed, "limit of 256 tokens")
    assert listing.returncode == 0, listing.stderr
    statuses = {row["id"]: row["status"] for row in json.loads(listing.stdout)}
    assert statuses == {sweeps.bert_id: "complete", sweeps.llama_id: "complete"}
