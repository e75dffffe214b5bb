"""Samples: the sample runs a first start makes, offline, so the dashboards have something to show
(a short benchmark of the bundled chat model and a small federated simulation).

The sample texts and prompts for trying a model are model inputs: :mod:`workbench.models.inputs`.
"""

from __future__ import annotations

from workbench.samples.config import SampleSettings
from workbench.samples.runs import SAMPLE_KINDS, ensure_sample_runs, usable_runs

__all__ = ["SAMPLE_KINDS", "SampleSettings", "ensure_sample_runs", "usable_runs"]
