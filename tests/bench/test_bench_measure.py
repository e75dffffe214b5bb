"""The measurement loop under a fake clock, and the benchmark configs that drive it."""

from __future__ import annotations

import json

import pytest
import torch

from workbench.bench.config import BenchConfig, MeasurePolicy
from workbench.bench.measure import measure, torch_threads
from workbench.kit.cli import parse_list
from workbench.kit.errors import InvalidInputError


class FakeTime:
    """A clock that only moves when the measured call runs: call n takes ``durations[n]``.

    After the listed durations, every further call takes the last one.
    """

    def __init__(self, *durations: float) -> None:
        self.now = 0.0
        self.calls = 0
        self.durations = durations

    def clock(self) -> float:
        return self.now

    def call(self) -> int:
        self.now += self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1
        return self.calls


def policy(**values) -> MeasurePolicy:
    """A policy with no warm-up and no minimum time unless given."""
    return MeasurePolicy(**{"warmup": 0, "min_seconds": 0.0, **values})


# Stopping rules (durations are powers of two so that sums are exact)


def test_iterations_reached_first_waits_for_min_seconds():
    """min_iters 2 with 0.25 s calls and min_seconds 1.0: four calls are measured."""
    fake = FakeTime(0.25)

    timings = measure(fake.call, policy(min_iters=2, min_seconds=1.0), clock=fake.clock)

    assert timings.samples == [0.25] * 4
    assert timings.stopped_by == "minimums reached"


def test_seconds_reached_first_waits_for_min_iters():
    """min_iters 6 with 0.25 s calls and min_seconds 0.5: six calls are measured."""
    fake = FakeTime(0.25)

    timings = measure(fake.call, policy(min_iters=6, min_seconds=0.5), clock=fake.clock)

    assert len(timings.samples) == 6
    assert timings.stopped_by == "minimums reached"


def test_max_seconds_stops_before_min_iters():
    """min_iters 100 with 0.25 s calls and max_seconds 1.0: measuring stops after four calls."""
    fake = FakeTime(0.25)

    timings = measure(fake.call, policy(min_iters=100, max_seconds=1.0), clock=fake.clock)

    assert len(timings.samples) == 4
    assert timings.stopped_by == "max_seconds"


def test_a_call_slower_than_max_seconds_is_still_measured_once():
    """A 4 s call under max_seconds 1.0 gives exactly one 4 s sample."""
    fake = FakeTime(4.0)

    timings = measure(fake.call, policy(min_iters=5, max_seconds=1.0), clock=fake.clock)

    assert timings.samples == [4.0]


# Warm-up, cold call and results


def test_warmup_calls_run_untimed_after_the_cold_call():
    """warmup 3 and min_iters 2 call the function 1 (cold) + 3 (warm-up) + 2 (measured) times."""
    fake = FakeTime(0.25)

    timings = measure(fake.call, policy(warmup=3, min_iters=2), clock=fake.clock)

    assert fake.calls == 6
    assert len(timings.samples) == 2


def test_cold_call_is_recorded_apart_from_the_samples():
    """A 2 s first call, two 1 s warm-up calls, then 0.25 s calls: cold 2 s, samples 0.25 s."""
    fake = FakeTime(2.0, 1.0, 1.0, 0.25)

    timings = measure(fake.call, policy(warmup=2, min_iters=3), clock=fake.clock)

    assert timings.cold_seconds == 2.0
    assert timings.samples == [0.25, 0.25, 0.25]


def test_results_of_measured_calls_are_kept_in_order():
    """With warmup 2, the measured calls are the 4th and 5th, and their returns are kept."""
    fake = FakeTime(0.25)

    timings = measure(fake.call, policy(warmup=2, min_iters=2), clock=fake.clock)

    assert timings.results == [4, 5]


def test_on_iteration_gets_count_and_elapsed_seconds():
    """on_iteration is called after each measured call with (calls so far, seconds since start)."""
    fake = FakeTime(0.25)
    seen = []

    measure(
        fake.call,
        policy(min_iters=3),
        clock=fake.clock,
        on_iteration=lambda count, elapsed: seen.append((count, elapsed)),
    )

    assert seen == [(1, 0.25), (2, 0.5), (3, 0.75)]


# MeasurePolicy validation


def test_policy_min_seconds_above_max_seconds_names_both_and_the_fix():
    """min_seconds 5 with max_seconds 1 names both fields and both flags to change."""
    with pytest.raises(InvalidInputError) as error:
        MeasurePolicy(min_seconds=5, max_seconds=1)

    message = str(error.value)
    for fragment in ("`min_seconds`", "`max_seconds`", "--max-seconds", "--min-seconds"):
        assert fragment in message


def test_policy_negative_warmup_names_the_field():
    """warmup -1 is refused, naming `warmup` and its flag --warmup."""
    with pytest.raises(InvalidInputError, match=r"`warmup` \(--warmup\) must be .* >= 0"):
        MeasurePolicy(warmup=-1)


def test_policy_zero_min_iters_names_the_field():
    """min_iters 0 is refused, naming `min_iters`, its flag and the minimum of 1."""
    with pytest.raises(InvalidInputError, match=r"`min_iters` \(--min-iters\) must be .* >= 1"):
        MeasurePolicy(min_iters=0)


# BenchConfig validation


@pytest.mark.parametrize("size", [0, -1])
def test_config_batch_size_below_one_names_field_and_flag(size):
    """A batch size of 0 or -1 names `batch_sizes` and the --batch flag."""
    with pytest.raises(InvalidInputError) as error:
        BenchConfig("tiny-bert", batch_sizes=(1, size))

    assert "`batch_sizes`" in str(error.value)
    assert "--batch" in str(error.value)


def test_config_negative_seq_len_names_field_and_flag():
    """seq_len -1 names `seq_lens` and the --seq-len flag."""
    with pytest.raises(InvalidInputError, match=r"--seq-len \(`seq_lens`\)"):
        BenchConfig("tiny-bert", seq_lens=(-1,))


def test_config_empty_variants_is_refused():
    """No variants at all is refused, saying `variants` is empty."""
    with pytest.raises(InvalidInputError, match="`variants` is empty"):
        BenchConfig("tiny-bert", variants=())


def test_config_duplicate_variants_is_refused():
    """Listing fp32 twice is refused, naming `variants`."""
    with pytest.raises(InvalidInputError, match="`variants` lists a variant twice"):
        BenchConfig("tiny-bert", variants=("fp32", "int8", "fp32"))


def test_config_zero_threads_names_field_and_flag():
    """threads 0 names `threads` and the --threads flag."""
    with pytest.raises(InvalidInputError, match=r"`threads` \(--threads\)"):
        BenchConfig("tiny-bert", threads=(0,))


def test_config_zero_max_new_tokens_names_field_and_flag():
    """max_new_tokens 0 names `max_new_tokens` and the --max-new-tokens flag."""
    with pytest.raises(InvalidInputError, match=r"`max_new_tokens` \(--max-new-tokens\)"):
        BenchConfig("tiny-llama", max_new_tokens=0)


# BenchConfig grid and serialisation


def test_points_grid_has_every_combination_variants_outermost():
    """2 variants x 2 batch sizes x 2 lengths give 8 points, variant first, then batch, then length."""
    config = BenchConfig(
        "tiny-bert",
        variants=("fp32", "int8"),
        threads=(1,),
        batch_sizes=(1, 4),
        seq_lens=(8, 16),
    )

    points = [(p["variant"], p["threads"], p["batch"], p["seq_len"]) for p in config.points()]

    assert points == [
        ("fp32", 1, 1, 8),
        ("fp32", 1, 1, 16),
        ("fp32", 1, 4, 8),
        ("fp32", 1, 4, 16),
        ("int8", 1, 1, 8),
        ("int8", 1, 1, 16),
        ("int8", 1, 4, 8),
        ("int8", 1, 4, 16),
    ]


def test_config_to_dict_is_json_and_from_dict_round_trips():
    """A config survives JSON text and from_dict equal to the original, policy included."""
    config = BenchConfig(
        "tiny-llama",
        variants=("fp32", "bf16"),
        batch_sizes=(1, 2),
        seq_lens=(0, 8),
        threads=(1, 2),
        max_new_tokens=4,
        policy=MeasurePolicy(warmup=1, min_iters=3, min_seconds=0.5, max_seconds=2.0),
        quality_items=2,
        seed=7,
    )

    restored = BenchConfig.from_dict(json.loads(json.dumps(config.to_dict())))

    assert restored == config


# parse_list (the kit's, which the bench flags and panel use)


def test_parse_list_reads_comma_separated_numbers():
    """'1,8,32' becomes (1, 8, 32); spaces and a trailing comma are tolerated."""
    assert parse_list("1,8,32", "--batch") == (1, 8, 32)
    assert parse_list(" 1, 2 ,", "--batch") == (1, 2)


@pytest.mark.parametrize("text", ["abc", "1,x", "1.5"])
def test_parse_list_bad_input_names_the_flag(text):
    """Text that is not whole numbers raises an error naming the flag and the bad text."""
    with pytest.raises(InvalidInputError) as error:
        parse_list(text, "--batch")

    assert "--batch" in str(error.value)
    assert repr(text) in str(error.value)


# torch_threads


def test_torch_threads_restores_the_count_when_the_block_raises():
    """Inside the block torch uses 1 thread; after an exception in it, the previous 2 are back."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError, match="boom"), torch_threads(1):
            assert torch.get_num_threads() == 1
            raise RuntimeError("boom")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
