"""The federated dashboard, headless: a saved run's curves and settings, reruns beside it, no runs."""

from __future__ import annotations

import re
import shutil

import pytest

from widgets.federated_dashboard import FederatedDashboard
from workbench import runs
from workbench.federated.config import FedConfig
from workbench.federated.plots import BASELINE_GID
from workbench.federated.result import FedResult
from workbench.federated.runner import run_federated
from workbench.samples.runs import SampleSettings, ensure_sample_runs

PNG = b"\x89PNG"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


@pytest.fixture(scope="module")
def fed_runs(tmp_path_factory):
    """The sample federated run, then a smaller one (the newest), and a run of another kind."""
    runs_dir = tmp_path_factory.mktemp("fed-dashboard") / "runs"
    (sample,) = ensure_sample_runs(runs_dir, kinds=("federated",))
    small = run_federated(FedConfig(num_clients=10, rounds=2), runs_dir=runs_dir, progress=False)
    with runs.start_run("bench", {"model": "tiny-bert"}, runs_dir=runs_dir) as other:
        other.set_summary(model="tiny-bert")
    return runs_dir, small.run_id, sample, other.id


@pytest.fixture
def dashboard(fed_runs):
    runs_dir, _, sample, _ = fed_runs
    return FederatedDashboard(runs_dir=str(runs_dir), run_ids=[sample])


def test_the_newest_federated_run_is_shown_with_its_settings_on_the_knobs(fed_runs):
    """Without run ids: federated runs only, newest first; the knobs hold the shown run's settings."""
    runs_dir, small, sample, _ = fed_runs

    board = FederatedDashboard(runs_dir=str(runs_dir))

    assert [value for _, value in board.run.options] == [small, sample]
    assert board.run.value == small
    knobs = (board.strategy, board.partition, board.alpha, board.deadline_s, board.dp_noise)
    assert [k.value for k in knobs] == ["fedavg", "iid", 0.5, 0.0, 0.0]
    board.run.value = sample
    sample_config = SampleSettings().federated
    assert [k.value for k in knobs] == ["fedavg", "dirichlet", sample_config.alpha, 15.0, 0.0]
    assert board.errors.value == ""
    card = _text(board.card.value)
    assert sample in card
    assert "Central baseline" in card and "dropped out" in card


def test_saved_curves_traffic_outcomes_and_labels_are_drawn(dashboard):
    """Accuracy by round and by time with the baseline line, and three charts of the saved run."""
    curves = dashboard.figures["curves"]
    by_round = curves.axes[0]

    assert bytes(dashboard.curves.value).startswith(PNG)
    assert [line.get_gid() for line in by_round.get_lines()].count(BASELINE_GID) == 1
    assert len([ln for ln in by_round.get_lines() if ln.get_gid() != BASELINE_GID]) == 1
    for name in ("saved outcomes", "saved traffic", "saved labels"):
        assert name in dashboard.figures
    assert all(bytes(image.value).startswith(PNG) for image in dashboard.saved_charts.children)
    assert dashboard.rerun_box.layout.display == "none"
    comparison = _text(dashboard.comparison.value)
    assert "final accuracy" in comparison and "rerun" not in comparison.replace("Rerun", "")


def test_rerun_trains_the_variation_beside_the_saved_run_and_saves_nothing(dashboard, fed_runs):
    """DP noise 0.5: the rerun keeps every other setting, draws a second curve, adds a column."""
    runs_dir = fed_runs[0]
    before = [s.id for s in runs.list_runs(runs_dir)]
    dashboard.dp_noise.value = 0.5

    result = dashboard.rerun()

    saved = dashboard.saved.config
    assert result is not None
    assert result.config == saved.replace(dp_noise=0.5, launcher="inline")
    lines = [ln for ln in dashboard.figures["curves"].axes[0].get_lines()]
    assert len([ln for ln in lines if ln.get_gid() != BASELINE_GID]) == 2
    assert "rerun (DP noise 0 → 0.5)" in [ln.get_label() for ln in lines]
    comparison = _text(dashboard.comparison.value)
    assert "saved run rerun" in comparison
    assert f"privacy spent (ε) no DP {result.privacy['epsilon']:.3g}" in comparison
    assert "DP noise 0 → 0.5" in _text(dashboard.rerun_title.value)
    assert dashboard.rerun_box.layout.display is None
    assert [s.id for s in runs.list_runs(runs_dir)] == before


def test_a_refused_variation_is_explained_and_the_saved_run_stays(dashboard):
    """DP noise with FedMedian is refused: the reason beside the knobs, no rerun drawn."""
    dashboard.strategy.value = "fedmedian"
    dashboard.dp_noise.value = 1.0

    result = dashboard.rerun()

    assert result is None
    assert 'class="wb-error"' in dashboard.rerun_status.value
    assert "fedavg" in _text(dashboard.rerun_status.value)
    assert dashboard.rerun_result is None
    assert not dashboard.rerun_button.disabled
    assert "saved run" in _text(dashboard.comparison.value)


def test_saved_settings_button_puts_the_knobs_back(dashboard):
    """After changing knobs, Saved settings restores the run's values."""
    dashboard.strategy.value = "krum"
    dashboard.deadline_s.value = 0.0

    dashboard.reset_button.click()

    assert (dashboard.strategy.value, dashboard.deadline_s.value) == ("fedavg", 15.0)


def test_reruns_are_saved_when_asked(fed_runs):
    """save_reruns=True records the rerun as a federated run in the runs folder."""
    runs_dir, _, sample, _ = fed_runs
    board = FederatedDashboard(runs_dir=str(runs_dir), run_ids=[sample], save_reruns=True)
    board.partition.value = "iid"

    result = board.rerun()

    try:
        assert result.run_id in [s.id for s in runs.list_runs(runs_dir)]
        assert f"Saved as run {result.run_id}" in _text(board.rerun_status.value)
    finally:
        shutil.rmtree(runs_dir / result.run_id)  # the module's other tests count the runs


def test_published_runs_keep_their_order_and_a_missing_one_is_named(fed_runs):
    """run_ids order is kept; a missing id is named with the way out; the others still show."""
    runs_dir, small, sample, other = fed_runs
    missing = "20990101-000000-federated-gone-0000"

    board = FederatedDashboard(runs_dir=str(runs_dir), run_ids=[small, missing, sample, other])

    assert [value for _, value in board.run.options] == [small, sample]
    assert board.run.value == small
    errors = _text(board.errors.value)
    assert missing in errors and "publish the dashboard again" in errors


def test_run_ids_without_a_federated_run_explain_how_to_make_one(fed_runs):
    """Only a bench run given: the page says so and shows the command that makes one."""
    runs_dir, _, _, other = fed_runs

    board = FederatedDashboard(runs_dir=str(runs_dir), run_ids=[other])

    assert "No federated run to show" in _text(board.status.value)
    assert "workbench fed run --clients 10 --rounds 3" in _text(board.errors.value)
    assert board.rerun_button.disabled


def test_an_empty_runs_folder_gets_the_sample_run_once(tmp_path, monkeypatch):
    """No federated run: the sample is simulated, with a loading line; a second opening reuses it."""
    import workbench.samples.runs as samples

    runs_dir = tmp_path / "runs"
    first = FederatedDashboard(runs_dir=str(runs_dir), load_now=False)
    seen: list[str] = []
    real = samples.ensure_sample_runs

    def watched(*args, **kwargs):
        seen.append(first.status.value)  # what the page says while the sample is made
        return real(*args, **kwargs)

    monkeypatch.setattr(samples, "ensure_sample_runs", watched)
    first.load()
    second = FederatedDashboard(runs_dir=str(runs_dir))

    assert "Creating a sample run on this machine" in _text(seen[0])
    assert "about a second" in _text(seen[0])
    assert len(first.samples_made) == 1
    assert first.run.value == first.samples_made[0]
    assert second.samples_made == []
    assert second.run.value == first.samples_made[0]


def test_an_empty_runs_folder_without_samples_explains_how_to_make_one(tmp_path):
    """sample_runs=False: no run is made; the page shows the commands that make one."""
    board = FederatedDashboard(runs_dir=str(tmp_path / "runs"), sample_runs=False)

    assert "No runs to show" in _text(board.status.value)
    assert "workbench samples" in _text(board.errors.value)
    assert runs.list_runs(tmp_path / "runs") == []


def test_a_saved_run_reads_back_as_the_result_it_was(fed_runs):
    """FedResult.from_run gives the saved settings, rounds, label counts, baseline and summary."""
    runs_dir, small, _, other = fed_runs
    run = runs.load_run(small, runs_dir)

    result = FedResult.from_run(run)

    assert result.config == FedConfig(num_clients=10, rounds=2)
    assert result.final_accuracy == run.summary["final_accuracy"]
    assert result.baseline["accuracy"] == run.summary["baseline_accuracy"]
    assert result.label_distribution.shape == (10, 10)
    assert list(result.label_distribution.columns[:2]) == [0, 1]
    with pytest.raises(Exception, match="not a federated simulation"):
        FedResult.from_run(runs.load_run(other, runs_dir))


def test_background_load_finishes_on_its_thread(fed_runs):
    """background=True returns at once; the thread then shows the run."""
    runs_dir, _, sample, _ = fed_runs

    board = FederatedDashboard(runs_dir=str(runs_dir), run_ids=[sample], background=True)
    board.thread.join(timeout=120)

    assert board.run.value == sample
    assert bytes(board.curves.value).startswith(PNG)
