"""A finished benchmark sweep, and how it is saved as a run and rebuilt from one.

No torch here: a saved sweep can be read back on a machine that only reads runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

from workbench.bench.config import BenchConfig

if TYPE_CHECKING:
    from workbench.runs import Run

# The columns that say which point a row is, first in the points table.
LEADING = ["model", "task", "engine", "variant", "dtype", "threads", "batch", "seq_len"]
# Runs made before the engine axis ran every point on transformers.
DEFAULT_ENGINE = "transformers"


def with_engine(points: pd.DataFrame) -> pd.DataFrame:
    """``points`` with an ``engine`` column (``transformers`` for runs older than the column),
    placed among the leading columns."""
    if points.empty or "engine" in points.columns:
        return points
    points = points.copy()
    at = list(points.columns).index("variant") if "variant" in points.columns else 0
    points.insert(at, "engine", DEFAULT_ENGINE)
    return points


@dataclass
class BenchResult:
    """A finished sweep: one row per point, the raw samples, and where it was saved.

    ``environment`` holds what the projection needs beyond the run's own environment: the
    host's measured peak (``host_peak``).
    """

    KIND: ClassVar[str] = "bench"

    config: BenchConfig
    points: pd.DataFrame
    samples: pd.DataFrame
    run_id: str | None = None
    environment: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The tidy table: one row per point, units in the column names."""
        return self.points

    def tables(self) -> dict[str, pd.DataFrame]:
        """What a run saves: ``points`` (one row per point) and ``samples`` (one per call)."""
        return {"points": self.points, "samples": self.samples}

    def summary(self) -> dict[str, Any]:
        """Headline values: the model, the number of points, the variants measured, the fastest
        one and its figures."""
        points = self.points
        if points.empty:
            return {}
        best = points.loc[points["throughput_items_per_s"].idxmax()]
        return {
            "model": str(best["model"]),
            "points": len(points),
            "engines": [str(e) for e in points["engine"].drop_duplicates()]
            if "engine" in points.columns
            else [DEFAULT_ENGINE],
            "variants": [str(v) for v in points["variant"].drop_duplicates()],
            "fastest_engine": str(best.get("engine", DEFAULT_ENGINE)),
            "fastest_variant": str(best["variant"]),
            "best_throughput_items_per_s": float(best["throughput_items_per_s"]),
            "best_p50_ms": float(points["p50_ms"].min()),
        }

    @classmethod
    def from_run(cls, run: Run) -> BenchResult:
        """The sweep saved as ``run`` (a run of kind ``"bench"``)."""
        host_peak = run.environment.get("host_peak")
        return cls(
            config=BenchConfig.from_dict(run.config),
            points=with_engine(run.table("points")),
            samples=run.table("samples"),
            run_id=run.id,
            environment={"host_peak": host_peak} if host_peak is not None else {},
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values, JSON-ready."""
        return {
            "config": self.config.to_dict(),
            "points": self.points.to_dict(orient="records"),
            "samples": self.samples.to_dict(orient="records"),
            "run_id": self.run_id,
            "environment": self.environment,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        """The inverse of :meth:`to_dict`."""
        return cls(
            config=BenchConfig.from_dict(data["config"]),
            points=with_engine(pd.DataFrame.from_records(data["points"])),
            samples=pd.DataFrame.from_records(data["samples"]),
            run_id=data.get("run_id"),
            environment=data.get("environment", {}),
        )

    @classmethod
    def from_rows(
        cls,
        config: BenchConfig,
        rows: list[dict[str, Any]],
        samples: list[dict[str, Any]],
        environment: dict[str, Any],
    ) -> BenchResult:
        """A result from the rows measured so far (the points table with its leading columns first)."""
        points = with_engine(pd.DataFrame(rows))
        lead = [c for c in LEADING if c in points.columns]
        points = points[lead + [c for c in points.columns if c not in lead]]
        return cls(config, points, pd.DataFrame(samples), environment=dict(environment))


__all__ = ["LEADING", "BenchResult", "with_engine"]
