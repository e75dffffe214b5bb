"""The federated panel, driven headless, and the charts it shares with the notebook."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from widgets.common import ERROR_CLASS
from widgets.federated_panel import FederatedPanel
from workbench.federated import plots
from workbench.federated.config import FedConfig
from workbench.federated.fleet import load_tiers, tiers_table

# Small and quick: 20 clients, 4 asked per round, one local epoch.
SMALL = FedConfig(num_clients=20, rounds=3, fraction=0.2, local_epochs=1)


@pytest.fixture(scope="module")
def ran():
    """A panel after one Run of SMALL, with every per-round table the user saw while it ran."""
    panel = FederatedPanel(SMALL, save=False)
    tables: list[str] = []
    panel.table.observe(lambda change: tables.append(change["new"]), names="value")
    result = panel.run()
    return panel, result, tables


# -- the panel ---------------------------------------------------------------------------------


def test_panel_offers_one_share_slider_per_tier_and_dates_every_tier():
    """The device-mix sliders match the tier file; the tier table shows each source and as_of."""
    panel = FederatedPanel(SMALL, save=False)

    assert set(panel.mix) == set(load_tiers())
    for row in tiers_table().itertuples():
        assert row.as_of in panel.tiers_table.value
        assert row.source.split(":")[0] in panel.tiers_table.value
    assert not panel.run_button.disabled


def test_run_draws_one_point_per_round_and_the_central_baseline(ran):
    """After a run the curves have rounds 1..3 and a dashed line at the baseline accuracy."""
    panel, result, _ = ran

    by_round, by_time = panel.figures["curve"].axes
    federated = [ln for ln in by_round.get_lines() if ln.get_gid() != plots.BASELINE_GID]
    baseline = [ln for ln in by_round.get_lines() if ln.get_gid() == plots.BASELINE_GID]
    assert list(federated[0].get_xdata()) == [1, 2, 3]
    assert list(federated[0].get_ydata()) == pytest.approx(list(result.rounds["accuracy"]))
    assert baseline[0].get_ydata()[0] == pytest.approx(result.baseline["accuracy"])
    assert len(by_time.get_lines()[0].get_xdata()) == 3
    assert bytes(panel.curve_plot.value).startswith(b"\x89PNG")
    assert ERROR_CLASS not in panel.status.value


def test_rounds_appear_in_the_table_as_they_finish(ran):
    """The per-round table grew one row at a time while the run went on."""
    _, _, tables = ran

    rows_seen = [table.count("<tr>") - 1 for table in tables]  # minus the header

    assert rows_seen[:3] == [1, 2, 3]


def test_summary_compares_with_the_baseline_and_counts_traffic(ran):
    """The summary names the central baseline, the traffic and the clients' fates."""
    panel, result, _ = ran

    assert "Central baseline" in panel.summary.value
    assert f"{result.baseline['accuracy']:.3f}" in panel.summary.value
    assert "MB down" in panel.summary.value
    assert "no differential privacy" in panel.summary.value
    assert panel.progress.value == panel.progress.max == 3


def test_run_fills_label_traffic_outcome_and_spread_charts(ran):
    """Every chart of a finished run is a PNG; the label chart shows the first 20 clients."""
    panel, result, _ = ran

    for image in (panel.label_plot, panel.outcomes_plot, panel.traffic_plot, panel.spread_plot):
        assert bytes(image.value).startswith(b"\x89PNG")
    label_axes = panel.figures["labels"].axes[0]
    classes = result.label_distribution.shape[1]
    assert len(label_axes.patches) == 20 * classes


def test_history_lists_each_finished_run(ran):
    """The 'runs in this panel' table has a row for the run, with its final accuracy."""
    panel, result, _ = ran

    assert len(panel.history) >= 1
    assert panel.history[0]["final_accuracy"] == pytest.approx(result.final_accuracy)
    assert "fedavg" in panel.history_table.value


def test_empty_dirichlet_client_is_explained_and_the_last_run_stays(ran):
    """A tiny alpha over many clients names the empty clients; the charts keep the last run."""
    panel, result, _ = ran
    before = bytes(panel.curve_plot.value)
    panel.partition.value, panel.alpha.value, panel.num_clients.value = "dirichlet", 0.001, 400
    try:
        assert panel.run() is None

        assert ERROR_CLASS in panel.status.value
        assert "no data" in panel.status.value and "alpha" in panel.status.value
        assert "Traceback" not in panel.status.value
        assert panel.result is result
        assert bytes(panel.curve_plot.value) == before
        assert "Central baseline" in panel.summary.value
        assert not panel.run_button.disabled
    finally:
        panel.partition.value, panel.num_clients.value = "iid", SMALL.num_clients


def test_deadline_no_client_can_meet_is_explained(ran):
    """A deadline of 1 ms is refused with the fastest client's time and the fix."""
    panel, result, _ = ran
    panel.deadline_s.value = 0.001
    try:
        panel.run_button.click()

        assert ERROR_CLASS in panel.status.value
        assert "deadline_s" in panel.status.value
        assert "Raise the deadline" in panel.status.value
        assert panel.result is result
    finally:
        panel.deadline_s.value = 0.0


def test_every_client_failing_is_explained_in_the_panel():
    """When every client raises, the panel says so in one paragraph and keeps its button."""
    panel = FederatedPanel(
        SMALL.replace(num_clients=5, rounds=1, fraction=1.0, faulty_clients=tuple(range(5))),
        save=False,
    )

    assert panel.run() is None

    assert ERROR_CLASS in panel.status.value
    assert "failed" in panel.status.value
    assert "Traceback" not in panel.status.value
    assert panel.progress.bar_style == "danger"


def test_device_mix_sliders_change_the_config():
    """Setting a tier's slider to 0 removes it from the mix the run uses."""
    panel = FederatedPanel(SMALL, save=False)

    panel.mix["phone-low"].value = 0.0
    panel.mix["laptop"].value = 0.6

    mix = panel.config().device_mix
    assert mix["phone-low"] == 0.0
    assert mix["laptop"] == pytest.approx(0.6)
    assert "phone-low 0%" in panel.mix_readout.value


def test_all_zero_device_mix_is_refused_before_running():
    """A mix with every share at 0 is explained in the panel, naming device_mix."""
    panel = FederatedPanel(SMALL, save=False)
    for slider in panel.mix.values():
        slider.value = 0.0

    assert panel.run() is None

    assert ERROR_CLASS in panel.status.value
    assert "device_mix" in panel.status.value


def test_controls_map_onto_the_config():
    """Deadline 0 means none; the other controls land in the fields of the same name."""
    panel = FederatedPanel(SMALL, save=False)
    assert panel.config().deadline_s is None

    panel.deadline_s.value = 2.5
    panel.strategy.value = "fedprox"
    panel.dp_noise.value = 0.5
    panel.seed.value = 7

    config = panel.config()
    assert (config.deadline_s, config.strategy, config.dp_noise, config.seed) == (
        2.5,
        "fedprox",
        0.5,
        7,
    )
    assert config.local_epochs == SMALL.local_epochs  # kept from the starting config


def test_partition_shows_only_its_own_knob():
    """Alpha is shown for Dirichlet, classes per client for the pathological split."""
    panel = FederatedPanel(SMALL, save=False)
    assert panel.alpha.layout.display == "none"

    panel.partition.value = "dirichlet"
    assert panel.alpha.layout.display is None
    assert panel.classes_per_client.layout.display == "none"

    panel.partition.value = "pathological"
    assert panel.classes_per_client.layout.display is None


def test_dp_run_reports_the_privacy_spent():
    """With DP noise on, the summary gives epsilon and the table an epsilon column."""
    panel = FederatedPanel(SMALL.replace(rounds=2, dp_noise=1.0), save=False)

    result = panel.run()

    assert result is not None and result.privacy
    assert "Privacy spent" in panel.summary.value
    assert f"{result.privacy['epsilon']:.3g}" in panel.summary.value
    assert "<th>epsilon</th>" in panel.table.value


# -- the charts --------------------------------------------------------------------------------


def _rounds(n: int = 4) -> pd.DataFrame:
    """A hand-made per-round table: clock in minutes, 10 clients asked each round."""
    r = np.arange(1, n + 1)
    return pd.DataFrame(
        {
            "round": r,
            "accuracy": 0.5 + 0.1 * r,
            "sim_clock_s": 300.0 * r,
            "bytes_down": 10_000 * r,
            "bytes_up": 8_000 * r,
            "clients_completed": [7] * n,
            "clients_straggling": [1] * n,
            "clients_dropped": [2] * n,
            "clients_failed": [0] * n,
            "client_accuracy_mean": [0.8] * n,
            "client_accuracy_std": [0.05] * n,
            "client_accuracy_min": [0.7] * n,
        }
    )


def test_accuracy_by_round_draws_one_point_per_round_and_one_baseline():
    """Two runs on one Axes give two lines of 4 points and a single baseline line."""
    ax = plots.accuracy_by_round(_rounds(), baseline=0.95, label="a")
    plots.accuracy_by_round(_rounds(), ax, baseline=0.95, label="b")

    runs = [ln for ln in ax.get_lines() if ln.get_gid() != plots.BASELINE_GID]
    baselines = [ln for ln in ax.get_lines() if ln.get_gid() == plots.BASELINE_GID]
    assert [len(ln.get_xdata()) for ln in runs] == [4, 4]
    assert len(baselines) == 1


def test_accuracy_by_time_uses_minutes_for_a_twenty_minute_run():
    """A clock of 300..1200 s is drawn as 5..20 minutes."""
    ax = plots.accuracy_by_time(_rounds())

    assert list(ax.get_lines()[0].get_xdata()) == [5, 10, 15, 20]
    assert "min" in ax.get_xlabel()


def test_accuracy_comparison_has_one_line_per_run_on_both_axes():
    """Three runs give three lines by round and three by simulated time."""
    fig = plots.accuracy_comparison({k: _rounds() for k in "abc"}, baseline=0.9)

    for ax in fig.axes:
        assert len([ln for ln in ax.get_lines() if ln.get_gid() != plots.BASELINE_GID]) == 3


def test_label_distribution_stacks_one_bar_per_class_for_the_first_clients():
    """30 clients with 3 classes, 10 shown: 30 bars whose stacks add up to each client's data."""
    counts = pd.DataFrame(np.arange(90).reshape(30, 3), columns=[0, 1, 2])

    ax = plots.label_distribution(counts, clients=10)

    assert len(ax.patches) == 10 * 3
    tops = [p.get_y() + p.get_height() for p in ax.patches[-10:]]  # the last class is on top
    assert tops == list(counts.head(10).sum(axis=1))
    assert "first 10 of 30" in ax.get_title()


def test_traffic_by_round_draws_down_and_up_bars_in_kilobytes():
    """Four rounds give eight bars; 10,000 bytes is 10 kB."""
    ax = plots.traffic_by_round(_rounds())

    assert len(ax.patches) == 8
    assert ax.patches[0].get_height() == pytest.approx(10.0)
    assert ax.get_ylabel() == "kB"


def test_client_outcomes_stack_to_the_clients_asked():
    """Completed + straggling + dropped + failed bars stack to 10 clients each round."""
    ax = plots.client_outcomes(_rounds())

    assert len(ax.patches) == 4 * 4
    tops = [p.get_y() + p.get_height() for p in ax.patches[-4:]]
    assert tops == [10, 10, 10, 10]


def test_privacy_tradeoff_labels_each_point_with_its_epsilon():
    """Each DP level is annotated with its epsilon; the run without DP says so."""
    points = pd.DataFrame(
        {"dp_noise": [0.0, 1.0, 2.0], "accuracy": [0.9, 0.7, 0.5], "epsilon": [np.nan, 8.0, 3.0]}
    )

    ax = plots.privacy_tradeoff(points)

    texts = [t.get_text() for t in ax.texts]
    assert texts == ["no DP", "ε = 8", "ε = 3"]


def test_time_unit_picks_a_readable_unit():
    """Seconds below 2 minutes, minutes below 2 hours, then hours."""
    assert plots.time_unit(30) == ("s", 1.0)
    assert plots.time_unit(600) == ("min", 60.0)
    assert plots.time_unit(3 * 3600) == ("h", 3600.0)


def test_federated_plots_never_import_widget_libraries():
    """workbench.federated.plots stays headless: no ipywidgets, no IPython."""
    code = (
        "import sys, workbench.federated.plots\n"
        "bad = [m for m in ('ipywidgets', 'IPython') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
