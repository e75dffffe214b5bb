"""The model explorer panel, driven headless the way a user clicks it."""

from __future__ import annotations

import subprocess
import sys

from widgets import ModelExplorer
from widgets.common import ERROR_CLASS


def test_panel_loads_catalog_model_and_shows_its_card():
    """Load shows the model card with the parameter count and enables Run."""
    panel = ModelExplorer(default_model="tiny-bert")
    assert panel.run_button.disabled

    panel.load_button.click()

    assert "1,011,360" in panel.card.value
    assert "Loaded tiny-bert" in panel.status.value
    assert not panel.run_button.disabled


def test_panel_embeds_text_and_ranks_sample_sentences():
    """Running an embedding model reports the vector and the nearest sample sentences."""
    panel = ModelExplorer(default_model="tiny-bert", load_now=True)
    panel.text.value = "A cat sleeps by the window."

    panel.run_button.click()

    assert "32 dimensions, norm 1.0000" in panel.result.value
    assert "Nearest sample sentences" in panel.result.value
    assert ERROR_CLASS not in panel.result.value


def test_panel_streams_generated_text_for_chat_models():
    """A generation model's answer arrives in pieces and ends with its token count."""
    panel = ModelExplorer(default_model="tiny-llama", load_now=True)
    seen: list[str] = []
    panel.result.observe(lambda change: seen.append(change["new"]), names="value")
    panel.text.value = "hello there"
    panel.max_new_tokens.value = 6

    panel.run()

    assert len(seen) >= 3  # several streamed updates, then the final summary
    assert "6 tokens" in panel.result.value
    assert "finish: length" in panel.result.value


def test_panel_shows_load_errors_without_traceback():
    """A missing path appears as one paragraph in the panel, not a traceback."""
    panel = ModelExplorer(default_model="tiny-bert")
    panel.other.value = "./no/such/model"

    panel.load_button.click()

    assert ERROR_CLASS in panel.status.value
    assert "does not exist" in panel.status.value
    assert "Traceback" not in panel.status.value
    assert panel.runner is None
    assert panel.run_button.disabled


def test_panel_shows_input_errors_in_the_result_area():
    """Running with an empty text box explains what to do."""
    panel = ModelExplorer(default_model="tiny-bert", load_now=True)
    panel.text.value = "   "

    panel.run()

    assert ERROR_CLASS in panel.result.value
    assert "text box is empty" in panel.result.value
    assert not panel.run_button.disabled


def test_panel_reuses_a_model_it_already_loaded():
    """Switching back to a loaded model does not load it again."""
    panel = ModelExplorer(default_model="tiny-bert", load_now=True)
    first = panel.runner
    panel.model.value = "tiny-llama"
    panel.load()

    panel.model.value = "tiny-bert"
    panel.load()

    assert panel.runner is first


def test_core_never_imports_widget_libraries():
    """workbench (core and CLI) stays headless: no ipywidgets, no IPython."""
    code = (
        "import sys, workbench.models, workbench.cli, workbench.models.inputs\n"
        "workbench.models.load_model('tiny-bert', progress=False)\n"
        "bad = [m for m in ('ipywidgets', 'IPython') if m in sys.modules]\n"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_has_a_quality_tab_with_the_eval_panel():
    """The third tab is the evaluation panel, on the ticket-routing set; the classifier choice
    shows only for an embeddings set, where it is passed on to the eval."""
    from widgets import EvalPanel, workbench_dashboard

    dashboard = workbench_dashboard(default_model="tiny-bert", load_now=False)

    assert dashboard.titles == ("Models", "Benchmark", "Quality", "Local vs cloud", "Federated")
    panel = dashboard.children[2]
    assert isinstance(panel, EvalPanel)
    assert panel.eval_set.value == "ticket-routing"
    assert panel.classifier.layout.display == "none"
    panel.eval_set.value = "ticket-topics"
    panel.classifier.value = "logreg-head"
    assert panel.classifier.layout.display is None
    assert panel.config().classifier == "logreg-head"


def test_dashboard_has_a_local_vs_cloud_tab_with_the_decision_panel():
    """The fourth tab of the dashboard is the decision panel, on the support-chatbot scenario."""
    from widgets import DecisionPanel, workbench_dashboard

    dashboard = workbench_dashboard(default_model="tiny-bert", load_now=False)

    panel = dashboard.children[3]
    assert isinstance(panel, DecisionPanel)
    assert panel.scenario.value == "support_chatbot"
    assert "press Compare" in panel.status.value


def test_dashboard_has_a_federated_tab_that_runs(tmp_path):
    """The fifth tab is the federated panel; a small run there fills its per-round table."""
    from widgets import FederatedPanel, workbench_dashboard
    from workbench.federated.config import FedConfig

    dashboard = workbench_dashboard(default_model="tiny-bert", load_now=False)
    panel = dashboard.children[4]
    assert isinstance(panel, FederatedPanel)
    # the panel opens on the documented defaults (the mix spelled out: the catalogue's shares)
    assert panel.config().replace(device_mix={}) == FedConfig()
    panel.runs_dir = str(tmp_path)
    panel.num_clients.value, panel.rounds.value = 10, 2
    result = panel.run()
    assert result is not None and len(result.rounds) == 2


def _quick(panel):
    """Smallest honest settings: two calls per point."""
    panel.min_iters.value = 2
    panel.min_seconds.value = 0.0
    return panel


def test_benchmark_panel_measures_plots_and_saves_a_run():
    """Measure fills the table, the three charts and the drift table, and saves a run."""
    from widgets import BenchmarkPanel
    from workbench.runs import load_run

    panel = _quick(BenchmarkPanel(default_model="tiny-bert"))
    panel.variants.value = ("fp32", "int8")
    panel.batch_sizes.value = "1,2"
    panel.seq_lens.value = "8"

    panel.run_button.click()

    assert ERROR_CLASS not in panel.status.value
    assert panel.table.value.count("<tr>") == 1 + 4  # header + one row per point
    assert panel.drift.value.count("<tr>") == 1 + 2  # header + one row per variant
    for image in (panel.latency_plot, panel.throughput_plot, panel.device_plot):
        assert bytes(image.value).startswith(b"\x89PNG")
    run = load_run(panel.result.run_id)
    assert len(run.table("points")) == 4


def test_benchmark_panel_offers_the_variants_of_the_models_task():
    """A generation model adds static-cache and measures prompts as written."""
    from widgets import BenchmarkPanel

    panel = BenchmarkPanel(default_model="tiny-bert")
    assert "static-cache" not in panel.variants.options

    panel.model.value = "tiny-llama"

    assert "static-cache" in panel.variants.options
    assert panel.seq_lens.value == "0"


def test_benchmark_panel_shows_bad_sizes_as_an_error():
    """A batch size of 0, or text that is not numbers, is explained in the panel."""
    from widgets import BenchmarkPanel

    panel = _quick(BenchmarkPanel(default_model="tiny-bert"))
    panel.batch_sizes.value = "0"
    panel.run()
    assert ERROR_CLASS in panel.status.value
    assert "batch_sizes" in panel.status.value

    panel.batch_sizes.value = "one,two"
    panel.run()
    assert "Batch sizes" in panel.status.value
    assert not panel.run_button.disabled


def test_benchmark_panel_streams_points_as_they_finish():
    """The results table updates after every point, before the sweep ends."""
    from widgets import BenchmarkPanel

    panel = _quick(BenchmarkPanel(default_model="tiny-bert"))
    panel.variants.value = ("fp32",)
    panel.batch_sizes.value = "1,2,4"
    panel.seq_lens.value = "8"
    updates: list[str] = []
    panel.table.observe(lambda change: updates.append(change["new"]), names="value")

    panel.run()

    assert [u.count("<tr>") for u in updates[:3]] == [2, 3, 4]
