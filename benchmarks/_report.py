"""What every bench/ script prints: the machine, and a speed-up against its target.

The scripts run as ``python bench/NAME.py``, so this folder is on ``sys.path``.
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path

BUSY_SLOWDOWN = 1.5  # a round this much slower than a contender's fastest was disturbed
_SHOWN = ("torch", "transformers", "sentence-transformers", "numpy")


def print_machine() -> None:
    """CPU model, cores, torch threads and library versions (as a saved run records them)."""
    from workbench.runs import environment

    env = environment()
    libraries = ", ".join(f"{k} {v}" for k, v in env["libraries"].items() if k in _SHOWN)
    print(
        f"machine: {env['cpu_model']}, {env['logical_cores']} logical cores, "
        f"torch threads {env['torch_threads']}, avx512_bf16 "
        f"{'yes' if 'avx512_bf16' in _cpu_flags() else 'no'}; python {env['python']}; {libraries}"
    )
    print(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("flags"):
                return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def report_speedup(
    *,
    best: str,
    baseline: str,
    baseline_label: str,
    speeds: dict[str, list[float]],
    ratios: dict[str, list[float]],
    unit: str,
    target: float,
    quality: str,
) -> None:
    """The winner's median per-round speed-up against the baseline, the verdict, and how
    disturbed the rounds were, with the least-disturbed rounds as a cross-check."""
    rounds = len(ratios[best])
    speedup = statistics.median(ratios[best])
    verdict = "target met" if speedup >= target else "target missed"
    print(
        f"fastest variant (median per-round ratio) with {quality}: {best} at "
        f"{statistics.median(speeds[best]):.1f} {unit}"
    )
    print(
        f"speed-up over {baseline_label} (median of {rounds} per-round ratios): {speedup:.2f}x "
        f"(per round {', '.join(f'{r:.2f}' for r in ratios[best])}); target {target}x: {verdict}"
    )
    clean = sum(
        all(max(speeds[n]) / speeds[n][i] <= BUSY_SLOWDOWN for n in (best, baseline))
        for i in range(rounds)
    )
    print(
        f"rounds where neither side ran over {BUSY_SLOWDOWN}x slower than its fastest round: "
        f"{clean} of {rounds}"
        + ("" if 2 * clean > rounds else "; the machine was busy: rerun when it is quieter")
    )
    print(
        f"cross-check, each side's fastest round (the least disturbed): "
        f"{max(speeds[best]) / max(speeds[baseline]):.2f}x "
        f"({max(speeds[best]):.1f} against {max(speeds[baseline]):.1f} {unit})"
    )
