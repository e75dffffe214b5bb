"""A finished federated run as a value: its tables, its summary, and how it is rebuilt from a run.

:class:`FedResult` is the ``federated`` kind of the run store
(:func:`workbench.runs.record`): what :func:`~workbench.federated.runner.run_federated` returns,
and what the dashboards read back from a saved run with :meth:`FedResult.from_run`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from workbench.federated.config import FedConfig
from workbench.kit.errors import RunNotFoundError, WorkbenchError

# The columns every per-round record has (the CLI's --json promises these).
ROUND_COLUMNS = (
    "round",
    "accuracy",
    "loss",
    "clients_available",
    "clients_selected",
    "clients_completed",
    "clients_dropped",
    "clients_failed",
    "clients_straggling",
    "bytes_down",
    "bytes_up",
    "sim_time_s",
    "sim_clock_s",
    "wall_time_s",
    "train_loss",
    "client_accuracy_mean",
    "client_accuracy_std",
    "client_accuracy_min",
    "epsilon",
)
CLASS_PREFIX = "class_"  # label-distribution columns are saved as class_0, class_1, ...


@dataclass
class FedResult:
    """A finished federated run: per-round metrics, per-client outcomes, data split, baseline."""

    KIND: ClassVar[str] = "federated"

    config: FedConfig
    rounds: pd.DataFrame
    clients: pd.DataFrame
    label_distribution: pd.DataFrame
    client_info: pd.DataFrame
    baseline: dict[str, Any] | None
    privacy: dict[str, Any] | None
    wall_time_s: float
    run_id: str | None = None

    @property
    def final_accuracy(self) -> float:
        return float(self.rounds["accuracy"].iloc[-1]) if len(self.rounds) else math.nan

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready record per round."""
        return self.rounds.to_dict(orient="records")

    def tables(self) -> dict[str, pd.DataFrame]:
        """``rounds``, ``clients`` (each asked client's outcome per round; absent when no client
        was asked), ``label_distribution`` (one ``class_<c>`` column per class) and
        ``client_info``."""
        tables = {"rounds": self.rounds}
        if len(self.clients):
            tables["clients"] = self.clients
        distribution = self.label_distribution.reset_index()
        distribution.columns = [
            c if c == "client" else f"{CLASS_PREFIX}{c}" for c in distribution.columns
        ]
        return {**tables, "label_distribution": distribution, "client_info": self.client_info}

    def summary(self) -> dict[str, Any]:
        """Final accuracy, baseline, totals of traffic and client fates, privacy spent."""
        r = self.rounds
        privacy = self.privacy or {}
        return {
            "final_accuracy": self.final_accuracy,
            "baseline_accuracy": self.baseline["accuracy"] if self.baseline else None,
            "baseline_loss": self.baseline.get("loss") if self.baseline else None,
            "rounds": len(r),
            "num_clients": self.config.num_clients,
            "sim_hours": float(r["sim_clock_s"].iloc[-1] / 3600) if len(r) else 0.0,
            "wall_time_s": self.wall_time_s,
            "bytes_down": int(r["bytes_down"].sum()) if len(r) else 0,
            "bytes_up": int(r["bytes_up"].sum()) if len(r) else 0,
            "clients_dropped": int(r["clients_dropped"].sum()) if len(r) else 0,
            "clients_failed": int(r["clients_failed"].sum()) if len(r) else 0,
            "clients_straggling": int(r["clients_straggling"].sum()) if len(r) else 0,
            "epsilon": privacy.get("epsilon"),
            "privacy_releases": privacy.get("releases"),
            "privacy_accounting": privacy.get("accounting"),
        }

    @classmethod
    def from_run(cls, run: Any) -> FedResult:
        """A saved federated run as the result it was (older runs: what they saved).

        Raises
        ------
        RunNotFoundError
            When the run is not a federated run.
        WorkbenchError
            When its settings cannot be read by this version.
        """
        if run.kind != cls.KIND:
            raise RunNotFoundError(
                f"Run {run.id} is a {run.kind!r} run, not a federated simulation; pick a run made "
                "with `workbench fed run`."
            )
        try:
            config = FedConfig.from_mapping(run.config, source=f"run {run.id}")
        except WorkbenchError as exc:
            raise type(exc)(
                f"{exc} The run was saved by another version of the workbench; its settings "
                "cannot be rerun here."
            ) from exc
        summary = run.summary
        return cls(
            config=config,
            rounds=run.table("rounds"),
            clients=run.tables.get("clients", pd.DataFrame()),
            label_distribution=_distribution(run.tables.get("label_distribution")),
            client_info=run.tables.get("client_info", pd.DataFrame()),
            baseline=_baseline(summary),
            privacy=_privacy(summary, config),
            wall_time_s=float(_number(summary.get("wall_time_s"))),
            run_id=run.id,
        )


def _distribution(saved: pd.DataFrame | None) -> pd.DataFrame | None:
    """The label distribution as :func:`~workbench.federated.partition.label_distribution` gave
    it: indexed by client, one int column per class."""
    if saved is None or "client" not in saved:
        return saved
    frame = saved.set_index("client")
    frame.columns = [int(str(c).removeprefix(CLASS_PREFIX)) for c in frame.columns]
    return frame


def _baseline(summary: dict[str, Any]) -> dict[str, float] | None:
    if summary.get("baseline_accuracy") is None:
        return None
    baseline = {"accuracy": _number(summary["baseline_accuracy"])}
    if "baseline_loss" in summary:  # runs saved before it was kept have the accuracy only
        baseline["loss"] = _number(summary["baseline_loss"])
    return baseline


def _privacy(summary: dict[str, Any], config: FedConfig) -> dict[str, Any] | None:
    if summary.get("epsilon") is None and not config.dp:
        return None
    privacy = {"epsilon": _number(summary.get("epsilon"))}
    if "privacy_releases" in summary:  # runs saved before they were kept have epsilon only
        privacy |= {
            "delta": config.dp_delta,
            "noise_multiplier": config.dp_noise,
            "clipping_norm": config.dp_clip,
            "releases": summary["privacy_releases"],
            "accounting": summary["privacy_accounting"],
        }
    return privacy


def _number(value: Any) -> float:
    """A saved number (``null`` where it was NaN) as a float."""
    return math.nan if value is None else float(value)


__all__ = ["CLASS_PREFIX", "ROUND_COLUMNS", "FedResult"]
