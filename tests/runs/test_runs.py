"""The run store: runs save as plain files, read back exactly, and survive crashes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from workbench.kit.errors import (
    AmbiguousRunIdError,
    CorruptRunError,
    InvalidInputError,
    RunNotFoundError,
    RunsDirError,
    TableNotFoundError,
    WorkbenchError,
)
from workbench.runs import (
    Run,
    check_runs_dir,
    compare_runs,
    environment,
    list_runs,
    load_run,
    runs_table,
    start_run,
)
from workbench.runs import store as run_store

REPO_ROOT = Path(__file__).resolve().parents[2]


def tricky_table() -> pd.DataFrame:
    """Values that a careless CSV round trip would change."""
    return pd.DataFrame(
        {
            "float": [0.1 + 0.2, 1e-300, 5e-324, -0.0, float("nan"), float("inf")],
            "float32": np.array([0.1, 1 / 3, 1e-40, 3.4e38, np.nan, -2.5], dtype="float32"),
            "int": [2**63 - 1, -(2**63), 0, 1, -1, 12345678901234567],
            "bool": [True, False, True, False, True, True],
            "text": ["a,b", 'say "hi"', "two\nlines", "cr\ronly", "", "NA"],
            "nullable_int": pd.array([1, None, 2**62 + 1, 0, -5, 7], dtype="Int64"),
            "maybe_text": pd.Series(["x", None, "", "nan", "None", "1"], dtype=object),
        }
    )


def save_run(runs_dir: Path, kind: str = "bench", label: str = "", **tables: pd.DataFrame) -> str:
    """A complete run holding ``tables``; returns its id."""
    with start_run(kind, {"model": label or "m"}, runs_dir=runs_dir, label=label) as run:
        for name, frame in tables.items():
            run.add_table(name, frame)
    return run.id


def at(second: float) -> datetime:
    """A fixed UTC moment ``second`` seconds after 2026-01-02 03:04:05."""
    return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC) + pd.Timedelta(seconds=second)


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout's workbench."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=300,
    )


# Round trips


def test_tables_load_back_bit_exact(tmp_path):
    """A saved table loads back with identical values and dtypes, float bits included."""
    table = tricky_table()
    run_id = save_run(tmp_path, points=table)

    loaded = load_run(run_id, tmp_path).table("points")

    assert_frame_equal(loaded, table, check_exact=True)
    assert np.signbit(loaded["float"][3])
    assert loaded["float"].to_numpy().tobytes() == table["float"].to_numpy().tobytes()


def test_pandas_string_dtypes_round_trip(tmp_path):
    """Columns of pandas' string dtypes keep their dtype and their missing values."""
    table = pd.DataFrame(
        {
            "str": pd.Series(["a", None, ""], dtype="str"),
            "string": pd.array(["b", None, "NA"], dtype="string"),
            "boolean": pd.array([True, None, False], dtype="boolean"),
        }
    )
    run_id = save_run(tmp_path, points=table)

    assert_frame_equal(load_run(run_id, tmp_path).table("points"), table, check_exact=True)


def test_run_metadata_round_trips(tmp_path):
    """Config, seed, label, summary and extra environment values load back as written."""
    config = {"model": "minilm", "batch_sizes": [1, 8], "nested": {"threads": 4, "p": 0.1 + 0.2}}
    with start_run(
        "bench",
        config,
        seed=7,
        label="MiniLM threads",
        runs_dir=tmp_path,
        environment_extra={"accelerator": "none"},
    ) as run:
        run.set_summary(p95_ms=np.float64(12.5), requests=np.int64(3), note="ok")

    loaded = load_run(run.id, tmp_path)

    assert (loaded.kind, loaded.label, loaded.seed, loaded.status) == (
        "bench",
        "MiniLM threads",
        7,
        "complete",
    )
    assert loaded.config == config
    assert loaded.summary == {"p95_ms": 12.5, "requests": 3, "note": "ok"}
    assert loaded.environment["accelerator"] == "none"
    assert datetime.fromisoformat(loaded.started_at) <= datetime.fromisoformat(loaded.ended_at)
    assert datetime.fromisoformat(loaded.started_at).utcoffset().total_seconds() == 0


def test_to_dict_from_dict_round_trip(tmp_path):
    """``Run.from_dict(run.to_dict())`` equals the run, through JSON text too."""
    run_id = save_run(
        tmp_path,
        points=tricky_table(),
        no_rows=pd.DataFrame({"a": []}, dtype="int64"),
        no_columns=pd.DataFrame(index=range(2)),
    )
    run = load_run(run_id, tmp_path)

    again = Run.from_dict(json.loads(json.dumps(run.to_dict())))

    assert run.equals(again)
    assert list(again.tables) == ["points", "no_rows", "no_columns"]


def test_equals_notices_a_changed_float_bit(tmp_path):
    """``Run.equals`` tells apart tables that differ in the last bit of one float."""
    run = load_run(save_run(tmp_path, points=pd.DataFrame({"x": [0.1 + 0.2]})), tmp_path)
    data = run.to_dict()
    data["tables"]["points"][0]["x"] = 0.3

    assert not run.equals(Run.from_dict(data))


def test_run_id_is_time_kind_label_and_hex(tmp_path, monkeypatch):
    """A run id reads as UTC start time, kind, label slug and four hex digits."""
    monkeypatch.setattr(run_store, "_utcnow", lambda: at(0))

    run_id = save_run(tmp_path, label="MiniLM, 4 threads!")

    assert re.fullmatch(r"20260102-030405-bench-minilm-4-threads-[0-9a-f]{4}", run_id)


# Writing


def test_run_folder_says_incomplete_while_running(tmp_path):
    """Inside the block, run.json already exists and says "incomplete"."""
    with start_run("bench", {}, runs_dir=tmp_path) as run:
        during = json.loads((run.path / "run.json").read_text())

    assert during["status"] == "incomplete"
    assert during["ended_at"] is None


def test_table_file_is_written_when_added(tmp_path):
    """``add_table`` writes the CSV at once, readable before the run ends."""
    with start_run("bench", {}, runs_dir=tmp_path) as run:
        run.add_table("points", pd.DataFrame({"x": [1, 2]}))
        during = load_run(run.id, tmp_path)

    assert during.status == "incomplete"
    assert during.table("points")["x"].tolist() == [1, 2]


def test_exception_marks_run_failed_and_keeps_tables(tmp_path):
    """An exception in the block marks the run failed, re-raises, and keeps earlier tables."""
    with (
        pytest.raises(RuntimeError, match="model fell over"),
        start_run("bench", {}, runs_dir=tmp_path) as run,
    ):
        run.add_table("points", pd.DataFrame({"x": [1.5]}))
        raise RuntimeError("model fell over\nsecond line")

    loaded = load_run(run.id, tmp_path)
    assert loaded.status == "failed"
    assert loaded.error == "RuntimeError: model fell over second line"
    assert loaded.table("points")["x"].tolist() == [1.5]


def test_add_table_after_the_run_ended_is_refused(tmp_path):
    """A finished run cannot be changed through its recorder."""
    with start_run("bench", {}, runs_dir=tmp_path) as run:
        pass

    with pytest.raises(InvalidInputError, match="has ended"):
        run.add_table("late", pd.DataFrame({"x": [1]}))


@pytest.mark.parametrize("name", ["Points", "my-table", "", "../up", "a b"])
def test_bad_table_names_are_refused(tmp_path, name):
    """Table names outside [a-z0-9_]+ are refused with the rule in the message."""
    with (
        start_run("bench", {}, runs_dir=tmp_path) as run,
        pytest.raises(InvalidInputError, match=r"a-z, 0-9 and _"),
    ):
        run.add_table(name, pd.DataFrame({"x": [1]}))


def test_unstorable_column_type_is_refused(tmp_path):
    """A datetime column is refused with the column's name, rather than saved inexactly."""
    frame = pd.DataFrame({"when": pd.to_datetime(["2026-01-01"])})
    with (
        start_run("bench", {}, runs_dir=tmp_path) as run,
        pytest.raises(InvalidInputError, match="'when'"),
    ):
        run.add_table("points", frame)


def test_mixed_object_column_is_refused(tmp_path):
    """An object column mixing strings and numbers is refused, naming a bad value."""
    frame = pd.DataFrame({"mixed": pd.Series(["a", 1], dtype=object)})
    with (
        start_run("bench", {}, runs_dir=tmp_path) as run,
        pytest.raises(
            InvalidInputError, match="'mixed' of table 'points' is an object column holding int"
        ),
    ):
        run.add_table("points", frame)


def test_config_holding_a_credential_is_refused(tmp_path, monkeypatch):
    """A config holding the value of a *_API_KEY variable is refused before anything is saved."""
    monkeypatch.setenv("WORKBENCH_TEST_API_KEY", "sk-test-0123456789")

    with (
        pytest.raises(InvalidInputError, match="WORKBENCH_TEST_API_KEY"),
        start_run("cloud", {"auth": "Bearer sk-test-0123456789"}, runs_dir=tmp_path),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


# Crashes


def test_sigkill_mid_run_leaves_it_interrupted_and_others_intact(tmp_path):
    """A process killed mid-run leaves an interrupted run and earlier runs unchanged."""
    # Prepare
    earlier_id = save_run(tmp_path, points=tricky_table())
    earlier = load_run(earlier_id, tmp_path)
    code = """
        import os, signal, sys
        import pandas as pd
        from workbench.runs import start_run
        with start_run("bench", {"n": 1}, runs_dir=sys.argv[1], label="killed") as run:
            run.add_table("first", pd.DataFrame({"x": [1, 2, 3]}))
            os.kill(os.getpid(), signal.SIGKILL)
    """

    # Execute
    done = run_python(code, str(tmp_path))

    # Assert
    assert done.returncode == -9, done.stderr
    listed = {s.id: s for s in list_runs(tmp_path)}
    killed = next(s for s in listed.values() if s.label == "killed")
    assert killed.status == "interrupted"
    assert load_run(killed.id, tmp_path).table("first")["x"].tolist() == [1, 2, 3]
    assert load_run(earlier_id, tmp_path).equals(earlier)


def test_kill_during_table_write_leaves_no_partial_csv(tmp_path):
    """A kill after a table's temp file is written but before its rename shows no new table."""
    code = """
        import os, signal, sys
        import pandas as pd
        from workbench.runs import start_run
        real_replace = os.replace
        def replace_then_die(src, dst):
            if str(dst).endswith("second.csv"):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)
        with start_run("bench", {}, runs_dir=sys.argv[1]) as run:
            run.add_table("first", pd.DataFrame({"x": [1]}))
            os.replace = replace_then_die
            run.add_table("second", pd.DataFrame({"y": list(range(1000))}))
    """

    done = run_python(code, str(tmp_path))

    assert done.returncode == -9, done.stderr
    [folder] = tmp_path.iterdir()
    assert not (folder / "second.csv").exists()
    assert list(folder.glob(".second.csv.*.tmp")), "the temp file should have been written"
    [summary] = list_runs(tmp_path)
    assert (summary.status, summary.tables) == ("interrupted", ("first",))
    assert list(load_run(summary.id, tmp_path).tables) == ["first"]


def test_failed_table_rewrite_keeps_previous_version(tmp_path, monkeypatch):
    """If replacing a table fails, the previous version of it stays whole and listed."""
    real_replace = os.replace

    def refuse_csv(src, dst):
        if str(dst).endswith(".csv"):
            raise OSError("disk full")
        real_replace(src, dst)

    with (
        pytest.raises(OSError, match="disk full"),
        start_run("bench", {}, runs_dir=tmp_path) as run,
    ):
        run.add_table("points", pd.DataFrame({"x": [1, 2]}))
        monkeypatch.setattr(os, "replace", refuse_csv)
        run.add_table("points", pd.DataFrame({"x": [9, 9, 9]}))
    monkeypatch.undo()

    assert load_run(run.id, tmp_path).table("points")["x"].tolist() == [1, 2]
    assert sorted(p.name for p in run.path.iterdir()) == ["points.csv", "run.json"]


# Listing


def test_list_runs_newest_last_with_statuses(tmp_path, monkeypatch):
    """Runs list by start time, newest last, each with its status."""
    moments = iter([at(0.1), at(0.1), at(0.2), at(0.2), at(1), at(1)])
    monkeypatch.setattr(run_store, "_utcnow", lambda: next(moments))
    # Same second: ids sort "alpha" before "zeta", start times the other way round.
    zeta = save_run(tmp_path, kind="zeta")
    with pytest.raises(ValueError), start_run("alpha", {}, runs_dir=tmp_path):
        raise ValueError("boom")
    with start_run("mid", {}, runs_dir=tmp_path) as running:
        listed = list_runs(tmp_path)

    assert [(s.kind, s.status) for s in listed] == [
        ("zeta", "complete"),
        ("alpha", "failed"),
        ("mid", "incomplete"),
    ]
    assert listed[0].id == zeta
    assert listed[2].id == running.id
    assert listed[1].error == "ValueError: boom"


def test_runs_table_has_one_row_per_run(tmp_path):
    """``runs_table`` is a DataFrame with one printable row per run."""
    with start_run("bench", {}, runs_dir=tmp_path, label="a") as run:
        run.set_summary(p95_ms=12.345678)

    frame = runs_table(tmp_path)

    assert frame["id"].tolist() == [run.id]
    assert frame.loc[0, "summary"] == "p95_ms=12.35"
    assert {"id", "kind", "label", "status", "started_at", "ended_at", "error"} <= set(frame)


def test_missing_runs_dir_lists_nothing(tmp_path):
    """A runs directory that does not exist yet simply has no runs (and is not created)."""
    assert list_runs(tmp_path / "none") == []
    assert not (tmp_path / "none").exists()


# Damage


def test_truncated_run_json_is_listed_corrupt_and_others_still_load(tmp_path):
    """A truncated run.json lists as corrupt with a reason; the other runs list and load."""
    good = save_run(tmp_path, label="good", points=pd.DataFrame({"x": [1]}))
    bad = save_run(tmp_path, label="bad", points=pd.DataFrame({"x": [2]}))
    file = tmp_path / bad / "run.json"
    file.write_text(file.read_text()[:40])

    listed = {s.id: s for s in list_runs(tmp_path)}

    assert listed[bad].status == "corrupt"
    assert "not valid JSON" in listed[bad].error
    assert listed[bad].started_at is not None
    assert listed[good].status == "complete"
    assert load_run(good, tmp_path).table("points")["x"].tolist() == [1]


def test_load_of_truncated_run_raises_corrupt_naming_the_file(tmp_path):
    """Loading a run with a truncated run.json raises CorruptRunError naming that file."""
    bad = save_run(tmp_path)
    file = tmp_path / bad / "run.json"
    file.write_text(file.read_text()[:40])

    with pytest.raises(CorruptRunError) as caught:
        load_run(bad, tmp_path)

    assert str(file) in str(caught.value)


def test_missing_table_file_makes_the_run_corrupt(tmp_path):
    """A run whose listed table file is gone lists as corrupt naming the file."""
    run_id = save_run(tmp_path, points=pd.DataFrame({"x": [1]}))
    (tmp_path / run_id / "points.csv").unlink()

    [summary] = list_runs(tmp_path)

    assert summary.status == "corrupt"
    assert "points.csv is missing" in summary.error


def test_damaged_table_values_make_the_run_corrupt(tmp_path):
    """A table whose cells no longer parse as their dtype raises CorruptRunError on load."""
    run_id = save_run(tmp_path, points=pd.DataFrame({"x": [1, 2]}))
    (tmp_path / run_id / "points.csv").write_text("x\r\n1\r\nlots\r\n")

    with pytest.raises(CorruptRunError, match=r"points\.csv cannot be read"):
        load_run(run_id, tmp_path)


def test_folder_without_run_json_is_listed_corrupt(tmp_path):
    """A folder in the runs directory without run.json lists as corrupt."""
    (tmp_path / "20260101-000000-bench-x-abcd").mkdir()

    [summary] = list_runs(tmp_path)

    assert (summary.status, summary.started_at) == ("corrupt", "2026-01-01T00:00:00.000000+00:00")
    assert "is missing" in summary.error


# Finding runs


def test_unknown_id_suggests_closest_ids(tmp_path):
    """An unknown id raises RunNotFoundError naming close ids and `workbench runs list`."""
    run_id = save_run(tmp_path, label="minilm")

    with pytest.raises(RunNotFoundError) as caught:
        load_run(run_id[:-1] + "x", tmp_path)

    assert run_id in str(caught.value)
    assert "workbench runs list" in str(caught.value)


def test_unique_prefix_resolves(tmp_path, monkeypatch):
    """A prefix shared by one run only loads that run."""
    moments = iter([at(0), at(0), at(60), at(60)])
    monkeypatch.setattr(run_store, "_utcnow", lambda: next(moments))
    first = save_run(tmp_path)
    save_run(tmp_path)

    assert load_run("20260102-030405", tmp_path).id == first


def test_ambiguous_prefix_lists_candidates(tmp_path):
    """A prefix shared by two runs raises AmbiguousRunIdError listing both."""
    ids = [save_run(tmp_path), save_run(tmp_path)]

    with pytest.raises(AmbiguousRunIdError) as caught:
        load_run(ids[0][:4], tmp_path)

    assert all(i in str(caught.value) for i in ids)


def test_missing_table_error_lists_available_tables(tmp_path):
    """``Run.table`` of an absent name raises TableNotFoundError listing the tables it has."""
    run = load_run(save_run(tmp_path, points=pd.DataFrame({"x": [1]})), tmp_path)

    with pytest.raises(TableNotFoundError, match="its tables are: points"):
        run.table("latency")


# Runs directory


def test_runs_dir_under_a_file_is_refused_before_the_block_runs(tmp_path):
    """A runs dir whose parent is a file raises RunsDirError naming it; the block never runs."""
    (tmp_path / "afile").write_text("")
    ran = []

    with (
        pytest.raises(RunsDirError) as caught,
        start_run("bench", {}, runs_dir=tmp_path / "afile" / "runs"),
    ):
        ran.append(True)

    message = str(caught.value)
    assert str(tmp_path / "afile" / "runs") in message
    assert "--runs-dir" in message and "WORKBENCH_RUNS_DIR" in message
    assert ran == []


def test_runs_dir_that_is_a_file_is_refused(tmp_path):
    """``check_runs_dir`` of a regular file raises RunsDirError saying it is a file."""
    (tmp_path / "runs").write_text("")

    with pytest.raises(RunsDirError, match="it is a file"):
        check_runs_dir(tmp_path / "runs")


def test_runs_dir_comes_from_environment_variable(tmp_path, monkeypatch):
    """Without an argument, runs go to $WORKBENCH_RUNS_DIR."""
    monkeypatch.setenv("WORKBENCH_RUNS_DIR", str(tmp_path / "from-env"))

    run_id = save_run(None)

    assert (tmp_path / "from-env" / run_id / "run.json").is_file()


def test_runs_dir_defaults_to_runs_in_current_directory(tmp_path, monkeypatch):
    """Without an argument or variable, runs go to ./runs."""
    monkeypatch.delenv("WORKBENCH_RUNS_DIR", raising=False)
    monkeypatch.chdir(tmp_path)

    run_id = save_run(None)

    assert (tmp_path / "runs" / run_id / "run.json").is_file()


# Comparing


def test_compare_runs_stacks_a_table_with_run_id_first(tmp_path):
    """Two runs' tables stack into one, with run_id first and the differing config key."""
    a = save_run(tmp_path, label="a", points=pd.DataFrame({"batch": [1, 8], "p95_ms": [2.0, 9.5]}))
    b = save_run(tmp_path, label="b", points=pd.DataFrame({"batch": [1], "p95_ms": [3.25]}))

    table = compare_runs([a, b], runs_dir=tmp_path)

    expected = pd.DataFrame(
        {
            "run_id": [a, a, b],
            "model": ["a", "a", "b"],
            "batch": [1, 8, 1],
            "p95_ms": [2.0, 9.5, 3.25],
        }
    )
    assert_frame_equal(table, expected, check_dtype=False)


def test_compare_runs_with_a_run_lacking_the_table_names_it(tmp_path):
    """Comparing on a table one run lacks raises TableNotFoundError naming that run."""
    a = save_run(tmp_path, points=pd.DataFrame({"x": [1]}))
    b = save_run(tmp_path, other=pd.DataFrame({"x": [1]}))

    with pytest.raises(TableNotFoundError, match=re.escape(b)):
        compare_runs([a, b], runs_dir=tmp_path)


# Environment


def test_environment_has_documented_keys():
    """``environment()`` reports machine, Python, libraries and git state."""
    env = environment()

    assert set(env) == {
        "cpu_model",
        "logical_cores",
        "torch_threads",
        "os",
        "machine",
        "python",
        "libraries",
        "git_revision",
        "git_dirty",
    }
    assert env["logical_cores"] == os.cpu_count()
    assert env["python"] == ".".join(map(str, sys.version_info[:3]))
    assert env["libraries"]["pandas"] == pd.__version__
    assert isinstance(env["torch_threads"], int)


def test_environment_reports_git_revision():
    """In this checkout, the git revision is HEAD's 40-hex commit and git_dirty a bool."""
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()

    env = environment()

    assert env["git_revision"] == head
    assert re.fullmatch(r"[0-9a-f]{40}", env["git_revision"])
    assert isinstance(env["git_dirty"], bool)


def test_environment_holds_no_credentials(monkeypatch):
    """No value of a *KEY*, *TOKEN* or *SECRET* environment variable appears in environment()."""
    monkeypatch.setenv("WORKBENCH_TEST_API_KEY", "sk-test-key-value-123")
    monkeypatch.setenv("WORKBENCH_TEST_TOKEN", "hf_test_token_value_456")
    monkeypatch.setenv("WORKBENCH_TEST_SECRET", "secret-value-789")

    dumped = json.dumps(environment())

    secrets = {
        value
        for name, value in os.environ.items()
        if re.search("KEY|TOKEN|SECRET", name, re.IGNORECASE) and len(value) >= 4
    }
    assert len(secrets) >= 3
    assert [s for s in secrets if s in dumped] == []


def test_errors_are_workbench_errors():
    """Every run-store error is a WorkbenchError, so the CLI prints it without a traceback."""
    for error in (RunsDirError, RunNotFoundError, CorruptRunError, TableNotFoundError):
        assert issubclass(error, WorkbenchError)
