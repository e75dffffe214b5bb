"""Publishing runs as a Voilà app folder, serving it from elsewhere offline, and static export."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pandas as pd
import pytest
from conftest import REPO_ROOT, run_cli
from voila_util import CHROMIUM, CHROMIUM_ARGS, free_port, serving

from workbench import publish as pub
from workbench import runs

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
SECRETS = {"OPENAI_API_KEY": "sk-test-wb-9f3b2c7d1e55", "WORKBENCH_TEST_TOKEN": "wbtok-5d1c8a7e3b"}
TOKEN = "visitor-token-4b9e"
TEMPLATE_CODE = "from widgets.run_browser import RunBrowser"  # a line of the template's code


def _record(runs_dir, kind="bench", config=None, table=None, fail=False) -> str:
    """Save a small run; ``fail`` leaves it failed. Returns its id."""
    try:
        with runs.start_run(kind, config or {"model": "tiny-bert"}, runs_dir=runs_dir) as run:
            frame = table if table is not None else pd.DataFrame({"batch": [1, 2]})
            run.add_table("points", frame.assign(p50_ms=[4.0, 7.5][: len(frame)]))
            run.set_summary(p50_ms=4.0)
            if fail:
                raise RuntimeError("out of memory")
    except RuntimeError:
        pass
    return run.id


@pytest.fixture(scope="module")
def secrets_in_env():
    """Credential-looking variables with distinctive values, as a user's shell would have."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SECRETS.items():
            patch.setenv(name, value)
        yield SECRETS


@pytest.fixture(scope="module")
def source(tmp_path_factory, secrets_in_env):
    """A runs folder with a real federated run and a bench run whose config names local paths."""
    from workbench.federated.config import FedConfig
    from workbench.federated.runner import run_federated

    runs_dir = tmp_path_factory.mktemp("source") / "runs"
    federated = run_federated(FedConfig(num_clients=10, rounds=2), runs_dir=runs_dir).run_id
    bench = _record(
        runs_dir,
        config={
            "model": str(REPO_ROOT / "models" / "tiny-bert"),
            "cache": str(Path.home() / ".cache" / "workbench"),
            "texts": str(runs_dir / "texts.csv"),
        },
    )
    return runs_dir, [federated, bench]


@pytest.fixture(scope="module")
def published(source, tmp_path_factory):
    """The two runs published with the default dashboard (mixed kinds: the run browser)."""
    runs_dir, ids = source
    out = tmp_path_factory.mktemp("published") / "app"
    return pub.publish(ids, out, runs_dir=runs_dir)


def _files(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()
    }


# -- the folder -----------------------------------------------------------------------------------


def test_published_folder_holds_the_notebook_the_runs_config_and_a_readme(published, source):
    """Exactly: dashboard.ipynb, voila.json, README.md, and each run's run.json and tables."""
    _, ids = source
    expected = {"dashboard.ipynb", "voila.json", "README.md"}
    for run_id in ids:
        run = runs.load_run(run_id, source[0])
        expected |= {f"runs/{run_id}/run.json"} | {f"runs/{run_id}/{t}.csv" for t in run.tables}

    assert set(_files(published)) == expected
    assert [s.id for s in runs.list_runs(published / "runs")] == ids
    readme = (published / "README.md").read_text()
    assert "workbench serve ." in readme
    assert all(run_id in readme for run_id in ids)


def test_parameters_are_bound_to_the_runs_by_a_relative_path(published, source):
    """The parameters cell sets RUNS_DIR = "runs" and RUN_IDS to the full ids; no outputs."""
    notebook = nbformat.read(published / "dashboard.ipynb", as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    values: dict = {}

    exec(code[0].source, values)

    assert "parameters" in code[0].metadata["tags"]
    assert values["RUNS_DIR"] == "runs"
    assert values["RUN_IDS"] == source[1]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert TEMPLATE_CODE in notebook.cells[2].source  # the template's own code is kept


def test_voila_json_hides_code_and_errors_culls_kernels_and_serves_only_run_files(published):
    """Sources stripped, tracebacks hidden, idle kernels culled, the offline template, run files."""
    config = json.loads((published / "voila.json").read_text())
    voila = config["VoilaConfiguration"]

    assert voila["strip_sources"] is True
    assert voila["show_tracebacks"] is False
    assert voila["template"] == pub.OFFLINE_TEMPLATE
    assert config["MappingKernelManager"]["cull_idle_timeout"] > 0
    assert config["MappingKernelManager"]["cull_interval"] > 0
    allowed = [p for p in voila["file_allowlist"]]
    assert any(re.fullmatch(p, "runs/x-1/run.json") for p in allowed)
    assert any(re.fullmatch(p, "runs/x-1/rounds.csv") for p in allowed)
    for private in ("dashboard.ipynb", "voila.json", "README.md", "secrets.txt", "runs/x/a.py"):
        assert not any(re.fullmatch(p, private) for p in allowed), private


def test_published_folder_holds_no_secret_and_no_path_of_this_machine(published, source, tmp_path):
    """No credential value, repository, home or temporary path in any file; paths are rewritten."""
    runs_dir, _ = source
    forbidden = [*SECRETS.values(), str(REPO_ROOT), str(Path.home()), str(runs_dir.parent)]
    forbidden += [str(published), str(tmp_path.parent.parent)]

    for name, text in _files(published).items():
        for value in forbidden:
            assert value not in text, f"{name} contains {value}"
    bench = runs.load_run(source[1][1], published / "runs")
    assert bench.config == {
        "model": "<repo>/models/tiny-bert",
        "cache": "~/.cache/workbench",
        "texts": "runs/texts.csv",
    }


def test_a_run_holding_a_credential_is_refused(source, tmp_path, secrets_in_env):
    """A table cell with a credential's value stops publishing; the message names the variable."""
    runs_dir, _ = source
    leaky = _record(
        runs_dir, table=pd.DataFrame({"header": [f"Bearer {SECRETS['OPENAI_API_KEY']}", "ok"]})
    )
    try:
        with pytest.raises(pub.PublishError) as refused:
            pub.publish([leaky], tmp_path / "app", runs_dir=runs_dir, dashboard="runs")
    finally:
        shutil.rmtree(runs_dir / leaky)

    assert "OPENAI_API_KEY" in str(refused.value)
    assert leaky in str(refused.value)
    assert SECRETS["OPENAI_API_KEY"] not in str(refused.value)
    assert not (tmp_path / "app").exists()
    assert list(tmp_path.iterdir()) == []  # no half-built folder left behind


# -- bad input ------------------------------------------------------------------------------------


def test_unknown_run_id_is_refused_naming_it(source, tmp_path):
    """`workbench publish` of a run that does not exist names it and exits 2."""
    runs_dir, _ = source

    done = run_cli(
        "publish",
        "20990101-000000-nope",
        "--out",
        str(tmp_path / "app"),
        "--runs-dir",
        str(runs_dir),
    )

    assert done.returncode == 2
    assert "There is no run '20990101-000000-nope'" in done.stderr
    assert "workbench runs list" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "app").exists()


@pytest.mark.parametrize("status", ["incomplete", "failed"])
def test_a_run_that_is_not_complete_is_refused(tmp_path, status):
    """Incomplete and failed runs are partial results: refused, with the run id and the fix."""
    runs_dir = tmp_path / "runs"
    if status == "failed":
        run_id = _record(runs_dir, fail=True)
    else:
        with runs.start_run("bench", {"model": "tiny-bert"}, runs_dir=runs_dir) as run:
            run_id = run.id
            meta = json.loads((run.path / "run.json").read_text())
        (runs_dir / run_id / "run.json").write_text(json.dumps(meta))  # as if killed mid-run

    with pytest.raises(pub.PublishError) as refused:
        pub.publish([run_id], tmp_path / "app", runs_dir=runs_dir, dashboard="runs")

    assert f"Run {run_id} is {status}" in str(refused.value)
    assert "Publish complete runs only" in str(refused.value)
    assert not (tmp_path / "app").exists()


def test_an_existing_folder_is_refused_unless_forced(source, tmp_path):
    """Without --force an existing --out is kept and named; with --force it is replaced."""
    runs_dir, ids = source
    out = tmp_path / "app"
    pub.publish(ids[:1], out, runs_dir=runs_dir, dashboard="runs")
    (out / "stale.txt").write_text("from the last time")
    args = [
        "publish",
        ids[1],
        "--out",
        str(out),
        "--dashboard",
        "runs",
        "--runs-dir",
        str(runs_dir),
    ]

    refused = run_cli(*args)
    forced = run_cli(*args, "--force")

    assert refused.returncode == 2
    assert f"The output folder {out} already exists" in refused.stderr
    assert "--force" in refused.stderr
    assert forced.returncode == 0, forced.stderr
    assert "workbench serve" in forced.stdout
    assert not (out / "stale.txt").exists()
    assert [s.id for s in runs.list_runs(out / "runs")] == [ids[1]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app"]  # no temporary folder left


def test_force_never_deletes_a_folder_that_is_not_a_published_app(source, tmp_path):
    """--force refuses a folder with other files in it, and leaves them alone."""
    runs_dir, ids = source
    (tmp_path / "thesis.tex").write_text("years of work")

    with pytest.raises(pub.PublishError, match="is not a published dashboard"):
        pub.publish(ids, tmp_path, runs_dir=runs_dir, force=True)

    assert (tmp_path / "thesis.tex").read_text() == "years of work"


def test_a_missing_template_is_refused_listing_the_templates(source, tmp_path):
    """An unknown --dashboard names the missing notebook and the templates there are."""
    runs_dir, ids = source

    with pytest.raises(pub.PublishError) as refused:
        pub.publish(ids, tmp_path / "app", runs_dir=runs_dir, dashboard="no-such-dashboard")

    assert "notebooks/dashboards/no-such-dashboard.ipynb does not exist" in str(refused.value)
    assert "runs" in str(refused.value)


def test_the_dashboard_is_chosen_from_the_runs_kinds():
    """Federated runs get the federated dashboard, bench/cloud/hybrid/cost the decision one."""
    assert pub.dashboard_for_kinds(["federated", "federated"]) == "federated"
    assert pub.dashboard_for_kinds(["bench", "cloud", "hybrid", "cost"]) == "decision"
    assert pub.dashboard_for_kinds(["bench", "federated"]) == "runs"
    assert pub.dashboard_for_kinds(["something-new"]) == "runs"


def test_binding_parameters_keeps_the_other_knobs():
    """Only RUNS_DIR and RUN_IDS change; other parameters and code stay as written."""
    cell = "# knobs\nRUNS_DIR = None  # default\nRUN_IDS = None\nREQUESTS = 1_000\n"

    bound = pub.bind_parameters(cell, {"RUNS_DIR": "runs", "RUN_IDS": ["a", "b"]})
    values: dict = {}
    exec(bound, values)

    assert (values["RUNS_DIR"], values["RUN_IDS"], values["REQUESTS"]) == ("runs", ["a", "b"], 1000)
    assert bound.startswith("# knobs\n")
    with pytest.raises(pub.PublishError, match="does not assign RUN_IDS"):
        pub.bind_parameters("RUNS_DIR = None\n", {"RUNS_DIR": "runs", "RUN_IDS": []})


def test_the_template_opened_with_no_runs_explains_how_to_make_one(repo_root, tmp_path):
    """runs.ipynb, executed on an empty runs folder, shows the commands that make a run."""
    from nbclient import NotebookClient

    notebook = nbformat.read(repo_root / "notebooks" / "dashboards" / "runs.ipynb", as_version=4)
    notebook.cells[1].source = pub.bind_parameters(
        notebook.cells[1].source, {"RUNS_DIR": str(tmp_path / "empty"), "RUN_IDS": None}
    )

    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()

    errors = [
        o for c in notebook.cells for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    state = json.dumps(notebook.metadata["widgets"])
    assert errors == []
    assert "No saved runs yet" in state
    assert "workbench bench minilm" in state


# -- serving from another folder ------------------------------------------------------------------


def test_serve_refuses_a_port_in_use(published):
    """A port another program listens on is named, with --port as the way out."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        done = run_cli("serve", str(published), "--port", str(port), timeout=60)

    assert done.returncode == 2
    assert f"Port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "--port" in done.stderr


def test_serve_refuses_a_folder_that_is_not_published(tmp_path):
    """Serving a plain folder says what is missing and how to make a published one."""
    with pytest.raises(pub.ServeError, match="is not a published dashboard"):
        pub.serve(tmp_path, port=free_port())


@pytest.fixture(scope="module")
def served(source, tmp_path_factory):
    """A published folder moved elsewhere, its runs folder deleted, served with a token.

    With the original runs gone and the server started from a third folder, the page can only
    show the runs if the app reads its own copies by a relative path.
    """
    runs_dir, ids = source
    work = tmp_path_factory.mktemp("served")
    own_runs = Path(shutil.copytree(runs_dir, work / "runs"))
    built = pub.publish(ids, work / "built" / "app", runs_dir=own_runs)
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    moved = Path(shutil.move(built, elsewhere / "moved-app"))
    shutil.rmtree(own_runs)
    port = free_port()
    log = work / "serve.log"
    env = {**os.environ, "WORKBENCH_RUNS_DIR": str(work / "no-runs-here")}
    command = [sys.executable, "-m", "workbench.cli", "serve", str(moved), "--port", str(port)]
    with serving([*command, "--token", TOKEN], work, port, log, env=env) as url:
        yield {"url": url, "ids": ids, "moved": moved, "log": log}


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=180) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_served_page_shows_the_dashboard_without_code_errors_or_paths(served):
    """200 with the widget, no error banner or traceback, no template code, no local paths."""
    status, page = _get(f"{served['url']}?token={TOKEN}")

    assert status == 200
    assert "application/vnd.jupyter.widget-view+json" in page
    assert "There was an error when executing cell" not in page
    assert "Traceback" not in page
    assert TEMPLATE_CODE not in page
    assert "RUN_IDS" not in page
    for path in (str(served["moved"]), str(REPO_ROOT), str(Path.home()) + "/"):
        assert path not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing from another host
    assert "Serving moved-app at http://127.0.0.1:" in served["log"].read_text()


def test_served_app_asks_for_the_token(served):
    """Without ?token= the dashboard is not shown."""
    request = urllib.request.Request(served["url"])
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        status = opener.open(request, timeout=60).status
    except urllib.error.HTTPError as error:
        status = error.code

    assert status in (302, 403)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_served_app_lets_the_page_fetch_run_files_only(served):
    """The allowlist serves the runs' files, never the notebook or the config."""
    run_id = served["ids"][0]
    files = f"{served['url']}voila/files/"

    assert _get(f"{files}runs/{run_id}/run.json?token={TOKEN}")[0] == 200
    assert _get(f"{files}runs/{run_id}/rounds.csv?token={TOKEN}")[0] == 200
    assert _get(f"{files}dashboard.ipynb?token={TOKEN}")[0] == 403
    assert _get(f"{files}voila.json?token={TOKEN}")[0] == 403


@pytest.mark.browser
def test_browser_shows_the_runs_offline_and_a_control_changes_the_comparison(served):
    """Chromium renders the moved app, a Run B change redraws the comparison, nothing leaves."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: run `apt-get install chromium` (.ci/run does)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=180_000)
    first, second = served["ids"]
    requested: list[str] = []

    def only_loopback(route):
        requested.append(route.request.url)
        host = urlparse(route.request.url).hostname
        if host == "127.0.0.1" or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()  # the test never leaves the machine, even when the page tries

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.on("websocket", lambda socket_: requested.append(socket_.url))
            page.set_default_timeout(180_000)
            page.goto(f"{served['url']}?token={TOKEN}")

            expect(page.locator(".wb-run-browser")).to_be_visible()
            expect(page.locator(".wb-runs")).to_contain_text(first)
            expect(page.locator(".wb-runs")).to_contain_text(second)
            comparison = page.locator("table.wb-compare").first
            expect(comparison).to_contain_text(f"B: {second}")

            run_b = page.locator(".widget-dropdown", has_text="Run B").locator("select")
            run_b.select_option(value=run_b.locator("option").first.get_attribute("value"))
            expect(comparison).to_contain_text(f"B: {first}")
            expect(page.locator(".wb-error")).to_have_count(0)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "published-run-browser.png"), full_page=True)
        finally:
            browser.close()

    elsewhere = sorted({u for u in requested if urlparse(u).hostname not in ("127.0.0.1", None)})
    assert elsewhere == []
    assert any("/api/kernels/" in u for u in requested)  # the page did talk to its kernel


# -- static export --------------------------------------------------------------------------------


def test_static_export_has_the_runs_tables_and_images_and_no_outside_links(source, tmp_path):
    """One HTML file: each run id, HTML tables, embedded PNG charts, nothing from another host."""
    runs_dir, ids = source

    out = pub.export_static(ids, tmp_path / "report.html", runs_dir=runs_dir)
    page = out.read_text()

    assert all(run_id in page for run_id in ids)
    assert "<table" in page and "<td>" in page
    assert page.count('src="data:image/png;base64,') >= 2  # rounds curves, bench points
    assert "http://" not in page and "https://" not in page
    assert str(REPO_ROOT) not in page and str(runs_dir) not in page


def test_static_export_of_a_published_folder_from_the_command_line(published, tmp_path):
    """`workbench export DIR --out FILE` exports the runs of a published folder."""
    done = run_cli("export", str(published), "--out", str(tmp_path / "report.html"))

    assert done.returncode == 0, done.stderr
    page = (tmp_path / "report.html").read_text()
    assert all(s.id in page for s in runs.list_runs(published / "runs"))


def test_preheat_asks_voila_for_one_kernel_that_has_run_the_dashboard(published):
    plain = pub.voila_command(published, port=8870)
    preheated = pub.voila_command(published, port=8870, preheat=True)
    assert "--preheat_kernel=True" not in plain
    assert {"--preheat_kernel=True", "--pool_size=1"} <= set(preheated)
    assert "--Voila.ip=127.0.0.1" in preheated
