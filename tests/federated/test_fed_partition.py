"""Sharing a task's rows among clients: IID, Dirichlet and pathological splits, and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.federated.partition import SCHEMES, label_distribution, partition_indices
from workbench.kit.errors import InvalidInputError

# 10 classes of 50 rows each, sorted by class: a split that forgets to shuffle shows at once.
SORTED_LABELS = np.repeat(np.arange(10), 50)


def _covers_each_row_once(parts: list[np.ndarray], num_rows: int) -> bool:
    joined = np.concatenate(parts)
    return len(joined) == num_rows and np.array_equal(np.sort(joined), np.arange(num_rows))


@pytest.mark.parametrize("scheme", ["iid", "dirichlet"])
def test_partitions_cover_every_row_exactly_once(scheme):
    """IID and Dirichlet give the requested number of clients and use every row once."""
    parts = partition_indices(SORTED_LABELS, 7, scheme=scheme, alpha=1.0, seed=0)

    assert len(parts) == 7
    assert _covers_each_row_once(parts, len(SORTED_LABELS))
    for part in parts:
        assert part.dtype == np.int64 and np.all(np.diff(part) > 0)  # sorted, no repeats


def test_iid_sizes_are_equal_and_classes_mixed():
    """IID clients get equal shares (within one row) holding most classes, not one sorted block."""
    parts = partition_indices(SORTED_LABELS, 8, scheme="iid", seed=0)

    sizes = [len(part) for part in parts]
    assert max(sizes) - min(sizes) <= 1
    assert all(len(np.unique(SORTED_LABELS[part])) >= 8 for part in parts)


def test_small_alpha_skews_labels_more_than_large_alpha():
    """Dirichlet with alpha 0.1 gives clients a dominant class; alpha 100 stays near uniform."""
    skewed = partition_indices(SORTED_LABELS, 5, scheme="dirichlet", alpha=0.1, seed=0)
    even = partition_indices(SORTED_LABELS, 5, scheme="dirichlet", alpha=100.0, seed=0)

    def mean_top_share(parts):
        table = label_distribution(SORTED_LABELS, parts, 10).to_numpy()
        return float(np.mean(table.max(axis=1) / table.sum(axis=1)))

    assert mean_top_share(skewed) > 0.3
    assert mean_top_share(even) < 0.2


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pathological_gives_each_client_at_most_k_classes(k):
    """Pathological: no client sees more than k classes, no row is given twice."""
    parts = partition_indices(SORTED_LABELS, 12, scheme="pathological", classes_per_client=k)

    assert len(parts) == 12
    assert all(len(np.unique(SORTED_LABELS[part])) <= k for part in parts)
    joined = np.concatenate(parts)
    assert len(joined) == len(np.unique(joined))


def test_pathological_uses_every_class_with_enough_clients():
    """With at least as many clients as classes, every row goes to some client."""
    parts = partition_indices(SORTED_LABELS, 10, scheme="pathological", classes_per_client=2)

    assert _covers_each_row_once(parts, len(SORTED_LABELS))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_same_seed_same_split_other_seed_other_split(scheme):
    """A split is reproducible from its seed, and the seed matters."""
    first = partition_indices(SORTED_LABELS, 6, scheme=scheme, seed=1)
    again = partition_indices(SORTED_LABELS, 6, scheme=scheme, seed=1)
    other = partition_indices(SORTED_LABELS, 6, scheme=scheme, seed=2)

    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_one_client_gets_everything():
    """A single client is a valid (central) split."""
    (only,) = partition_indices(SORTED_LABELS, 1, scheme="dirichlet")

    assert np.array_equal(only, np.arange(len(SORTED_LABELS)))


@pytest.mark.parametrize(
    ("num_clients", "kwargs", "field"),
    [
        (0, {}, "num_clients"),
        (-3, {}, "num_clients"),
        (2.5, {}, "num_clients"),
        (501, {}, "num_clients"),  # more clients than rows
        (5, {"scheme": "shards"}, "partition"),
        (5, {"scheme": "dirichlet", "alpha": 0.0}, "alpha"),
        (5, {"scheme": "dirichlet", "alpha": -1.0}, "alpha"),
        (5, {"scheme": "dirichlet", "alpha": float("nan")}, "alpha"),
        (5, {"scheme": "dirichlet", "alpha": float("inf")}, "alpha"),
        (5, {"scheme": "pathological", "classes_per_client": 0}, "classes_per_client"),
        (5, {"scheme": "pathological", "classes_per_client": 11}, "classes_per_client"),
        (5, {"seed": -1}, "seed"),
    ],
)
def test_bad_input_names_the_field(num_clients, kwargs, field):
    """Each bad argument raises InvalidInputError whose message names that argument."""
    with pytest.raises(InvalidInputError, match=f"`{field}`"):
        partition_indices(SORTED_LABELS, num_clients, **kwargs)


def test_classes_per_client_is_checked_against_the_classes_present():
    """Labels 0 and 7 only: 3 classes per client is impossible, and the limit shown is 2."""
    labels = np.array([0, 7] * 10)

    with pytest.raises(InvalidInputError, match=r"`classes_per_client` must be .* 1 to 2"):
        partition_indices(labels, 2, scheme="pathological", classes_per_client=3)


def test_empty_clients_are_named_with_a_fix():
    """A Dirichlet draw that leaves clients empty says which ones and how to avoid it."""
    labels = np.repeat(np.arange(2), 10)

    with pytest.raises(InvalidInputError) as info:
        partition_indices(labels, 10, scheme="dirichlet", alpha=0.05, seed=0)

    message = str(info.value)
    assert "clients 0, 1, 2, 3, 4, 8" in message
    assert "`num_clients`" in message and "`alpha`" in message and "iid" in message


def test_pathological_class_on_too_many_clients_becomes_our_error():
    """flwr-datasets' refusal (a class on more clients than its rows) is explained in our terms."""
    labels = np.repeat(np.arange(3), 2)

    with pytest.raises(InvalidInputError, match="`num_clients` or `classes_per_client`"):
        partition_indices(labels, 5, scheme="pathological", classes_per_client=3)


@pytest.mark.parametrize("labels", [np.zeros((4, 2), dtype=int), np.array([0.0, 1.0, 1.0])])
def test_labels_must_be_integer_vector(labels):
    """Labels that are not a 1-D integer array are refused, naming `labels`."""
    with pytest.raises(InvalidInputError, match="`labels`"):
        partition_indices(labels, 2)


def test_label_distribution_by_hand():
    """Counts per client and class on a four-row example."""
    labels = np.array([0, 1, 1, 2])

    table = label_distribution(labels, [np.array([0, 1]), np.array([2, 3])], 4)

    assert table.index.name == "client"
    assert list(table.columns) == [0, 1, 2, 3]
    assert table.to_numpy().tolist() == [[1, 1, 0, 0], [0, 1, 1, 0]]
    assert all(dtype.kind == "i" for dtype in table.dtypes)


def test_label_distribution_sums_match_partitions():
    """Each row sums to its client's size; each column to the class's rows in the data."""
    parts = partition_indices(SORTED_LABELS, 9, scheme="dirichlet", alpha=0.5, seed=3)

    table = label_distribution(SORTED_LABELS, parts, 10)

    assert table.sum(axis=1).tolist() == [len(part) for part in parts]
    assert table.sum(axis=0).tolist() == [50] * 10


def test_label_distribution_rejects_too_few_classes():
    """num_classes smaller than the largest label + 1 is refused, naming `num_classes`."""
    with pytest.raises(InvalidInputError, match="`num_classes`"):
        label_distribution(SORTED_LABELS, [np.arange(10)], 5)
