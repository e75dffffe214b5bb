"""Decisions kept for other pages: one computes at a time, and an unwritable cache keeps nothing."""

from __future__ import annotations

import threading

from workbench.decision import cache


def test_a_page_asking_for_a_decision_being_computed_waits_for_it(tmp_path, monkeypatch):
    """While one page computes a decision, a second page on the same inputs does not start
    computing it too: it enters only when the first is done (and then reads what it kept)."""
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    entered = threading.Event()

    def second_page() -> None:
        with cache.computing("same-inputs"):
            entered.set()

    with cache.computing("same-inputs"):
        waiting = threading.Thread(target=second_page)
        waiting.start()
        waiting.join(timeout=1.0)
        assert not entered.is_set()  # still waiting while the first computes
    waiting.join(timeout=30)
    assert entered.is_set()


def test_other_inputs_are_computed_side_by_side(tmp_path, monkeypatch):
    """Pages on different inputs never wait for each other."""
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    entered = threading.Event()

    def other_page() -> None:
        with cache.computing("other-inputs"):
            entered.set()

    with cache.computing("same-inputs"):
        thread = threading.Thread(target=other_page)
        thread.start()
        thread.join(timeout=30)
        assert entered.is_set()


def test_an_unwritable_cache_keeps_nothing_and_holds_nothing(tmp_path, monkeypatch):
    """Where the cache folder cannot be made, pages compute as if there were none: no error,
    nothing read back."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(blocker))

    with cache.computing("key"):
        drawn = cache.chart_bytes("key", "cost", "svg", lambda: b"<svg/>")

    assert drawn == b"<svg/>"
    assert cache.kept_chart("key", "cost", "svg") is None
    assert cache.load_decision("key") is None
