"""Load-time benchmark: GGUF first load (conversion) against the cached load, and the other models.

Run with ``make bench``. Every figure comes from this one run, on this machine, in a fresh cache
folder, so the first GGUF load really converts. Ratios compare figures measured side by side.
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
import time


def _time_load(name: str) -> tuple[float, object]:
    from workbench.models import load_model

    start = time.perf_counter()
    runner = load_model(name, progress=False)
    return time.perf_counter() - start, runner


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(prefix="workbench-bench-") as cache:
        os.environ["WORKBENCH_CACHE_DIR"] = cache
        import transformers  # noqa: F401  (imports are not part of any load time)

        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
        first, runner = _time_load("smollm2-135m")
        assert runner.info.gguf_cache_hit is False
        cached = [_time_load("smollm2-135m")[0] for _ in range(3)]
        minilm = [_time_load("minilm")[0] for _ in range(3)]
        tiny = [_time_load("tiny-bert")[0] for _ in range(3)]

    cached_median = statistics.median(cached)
    rows = [
        ("smollm2-135m GGUF first load (convert + cache)", first),
        ("smollm2-135m cached load (median of 3)", cached_median),
        ("minilm load (median of 3)", statistics.median(minilm)),
        ("tiny-bert build from config (median of 3)", statistics.median(tiny)),
    ]
    width = max(len(label) for label, _ in rows)
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:8.2f} s")
    print(f"{'GGUF first load / cached load':<{width}}  {first / cached_median:8.1f} x")


if __name__ == "__main__":
    main()
