"""Split a task's training rows among clients: IID, Dirichlet label skew, or k classes per client.

The splits come from flwr-datasets' partitioners, run on a small :class:`datasets.Dataset` built
here from the labels alone, so that the same partitioning code serves a simulation and a real
deployment that loads its partition with flwr-datasets. What the partitioners reject, or a split
that leaves a client with nothing, becomes one :class:`InvalidInputError` paragraph that says
which field to change, by the name users set it under (``FedConfig``'s ``partition`` for this
module's ``scheme``).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

SCHEMES = ("iid", "dirichlet", "pathological")


def partition_indices(
    labels: np.ndarray,
    num_clients: int,
    *,
    scheme: str = "iid",
    alpha: float = 0.5,
    classes_per_client: int = 2,
    seed: int = 0,
) -> list[np.ndarray]:
    """Row indices of each client's share of a labelled set.

    Parameters
    ----------
    labels
        1-D integer class labels of the rows to share out.
    num_clients
        How many clients.
    scheme
        ``"iid"``: a seeded shuffle cut into equal slices (sizes differ by at most one).
        ``"dirichlet"``: each class is shared out in proportions drawn from Dirichlet(``alpha``);
        small alpha gives each client few classes and uneven sizes, large alpha approaches IID.
        One draw, no redraws, so the split is exactly the Dirichlet one for the seed.
        ``"pathological"``: each client gets rows of ``classes_per_client`` classes only; client
        ``i`` always gets class ``i mod C`` (so every class is used once there are at least C
        clients), the others are drawn from ``seed``; each class is cut evenly among the clients
        that have it. With fewer than C clients some classes may go unused.
    alpha
        Dirichlet concentration (``"dirichlet"`` only), > 0.
    classes_per_client
        Classes per client (``"pathological"`` only), from 1 to the number of classes present.
    seed
        Seeds the shuffle and the draws: the same seed gives the same split.

    Returns
    -------
    list of numpy.ndarray
        ``num_clients`` sorted int64 arrays of row indices into ``labels``; no row appears
        twice, and for ``"iid"`` and ``"dirichlet"`` every row appears once.

    Raises
    ------
    InvalidInputError
        For an argument outside its range, or a split that leaves some client with no rows.
    """
    labels = _check_labels(labels)
    _check_args(labels, num_clients, scheme, alpha, classes_per_client, seed)
    partitioner = _partitioner(scheme, num_clients, alpha, classes_per_client, seed)
    try:
        parts = _split(partitioner, labels, num_clients, shuffle=scheme == "iid", seed=seed)
    except ValueError as exc:
        raise _explain(exc, scheme, num_clients, len(labels)) from exc
    _check_not_empty(parts, scheme, alpha, len(labels))
    return parts


def _split(
    partitioner, labels: np.ndarray, num_clients: int, *, shuffle: bool, seed: int
) -> list[np.ndarray]:
    """Each client's sorted row indices, as the flwr-datasets ``partitioner`` deals them out."""
    import datasets

    # IidPartitioner cuts contiguous shards: shuffle the rows first so that a shard is a sample.
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels)) if shuffle else np.arange(len(labels))
    partitioner.dataset = datasets.Dataset.from_dict({"label": labels[order], "row": order})
    with warnings.catch_warnings():
        # Pathological warns about unused classes; the label distribution shows that.
        warnings.simplefilter("ignore", UserWarning)
        return [
            np.sort(np.asarray(partitioner.load_partition(i)["row"], dtype=np.int64))
            for i in range(num_clients)
        ]


def label_distribution(
    labels: np.ndarray, parts: list[np.ndarray], num_classes: int
) -> pd.DataFrame:
    """How many rows of each class each client holds.

    Parameters
    ----------
    labels
        The labels that ``parts`` index into.
    parts
        One index array per client, as :func:`partition_indices` returns.
    num_classes
        Number of classes C; labels must lie in ``0..C-1``.

    Returns
    -------
    pandas.DataFrame
        One row per client (index named ``client``), one int column per class ``0..C-1``.
    """
    labels = _check_labels(labels)
    checks.whole("num_classes", num_classes, 1, fix="Pass the task's num_classes.")
    if labels.size and labels.max() >= num_classes:
        raise InvalidInputError(
            f"`num_classes` must be >= 1 and greater than every label (largest label "
            f"{int(labels.max()) if labels.size else 'none'}), got {num_classes}; pass the "
            "task's num_classes."
        )
    counts = np.zeros((len(parts), num_classes), dtype=np.int64)
    for client, part in enumerate(parts):
        counts[client] = np.bincount(
            labels[np.asarray(part, dtype=np.int64)], minlength=num_classes
        )
    frame = pd.DataFrame(counts, columns=list(range(num_classes)))
    frame.index.name = "client"
    return frame


def _check_labels(labels: np.ndarray) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise InvalidInputError(
            f"`labels` must be a 1-D array of integer class labels, got shape {array.shape} and "
            f"dtype {array.dtype}; pass the task's y_train."
        )
    if array.size and array.min() < 0:
        raise InvalidInputError(
            f"`labels` must be class numbers >= 0, found {int(array.min())}; map the classes "
            "to 0..C-1 first."
        )
    return array.astype(np.int64, copy=False)


def _check_args(
    labels: np.ndarray,
    num_clients: object,
    scheme: object,
    alpha: object,
    classes_per_client: object,
    seed: object,
) -> None:
    checks.whole("num_clients", num_clients, 1, fix="Pass e.g. 10.")
    checks.choice(
        "partition",
        scheme,
        SCHEMES,
        fix="Use iid for evenly shuffled data, dirichlet (with alpha) for label skew, "
        "pathological (with classes_per_client) for k classes per client.",
    )
    checks.whole("seed", seed, 0, 2**32 - 1, fix="Pass e.g. seed=0.")
    if num_clients > len(labels):
        raise checks.invalid(
            "num_clients",
            num_clients,
            f"at most the {len(labels)} samples, or some clients would get no data",
            fix=f"Use at most {len(labels)} clients.",
        )
    if scheme == "dirichlet":
        checks.number(
            "alpha",
            alpha,
            low=0,
            low_open=True,
            fix="Small values (0.1) give each client few classes, large values (100) approach "
            "IID; 0.5 is a common middle.",
        )
    if scheme == "pathological":
        present = len(np.unique(labels))
        checks.whole(
            "classes_per_client",
            classes_per_client,
            1,
            present,
            fix=f"There are {present} classes in the data; 2 is the usual pathological split.",
        )


def _partitioner(scheme: str, num_clients: int, alpha: float, k: int, seed: int):
    from flwr_datasets.partitioner import (
        DirichletPartitioner,
        IidPartitioner,
        PathologicalPartitioner,
    )

    if scheme == "iid":
        return IidPartitioner(num_partitions=int(num_clients))
    if scheme == "dirichlet":
        # min_partition_size=0: one draw; an empty client is reported by us, with the fix,
        # instead of Flower silently redrawing up to ten times and then raising.
        return DirichletPartitioner(
            num_partitions=int(num_clients),
            partition_by="label",
            alpha=float(alpha),
            min_partition_size=0,
            self_balancing=False,
            shuffle=False,
            seed=int(seed),
        )
    return PathologicalPartitioner(
        num_partitions=int(num_clients),
        partition_by="label",
        num_classes_per_partition=int(k),
        class_assignment_mode="first-deterministic",
        shuffle=False,
        seed=int(seed),
    )


def _explain(exc: ValueError, scheme: str, num_clients: int, num_samples: int) -> Exception:
    """One of our paragraphs for a ValueError a flwr-datasets partitioner raised."""
    message = str(exc)
    if "is needed to be assigned to more partitions" in message:
        return InvalidInputError(
            f"The pathological split of {num_samples} samples among {num_clients} clients "
            f"needs some class on more clients than it has samples ({message.split('. ')[0]}). "
            "Lower `num_clients` or `classes_per_client`, or use partition dirichlet or iid."
        )
    return InvalidInputError(
        f"The {scheme} split of {num_samples} samples among {num_clients} clients failed: "
        f"{message} Check `num_clients` and the scheme's settings (alpha, "
        "classes_per_client), or use scheme iid."
    )


def _check_not_empty(parts: list[np.ndarray], scheme: str, alpha: float, num_samples: int) -> None:
    empty = [client for client, part in enumerate(parts) if len(part) == 0]
    if not empty:
        return
    shown = ", ".join(str(c) for c in empty[:10]) + (
        f" and {len(empty) - 10} more" if len(empty) > 10 else ""
    )
    fix = (
        f"use fewer `num_clients`, a larger `alpha` (now {alpha:g}), or `partition` iid"
        if scheme == "dirichlet"
        else "use fewer `num_clients` or `partition` iid"
    )
    raise InvalidInputError(
        f"The {scheme} split of {num_samples} samples among {len(parts)} clients left "
        f"{len(empty)} client{'s' if len(empty) > 1 else ''} with no data "
        f"(client{'s' if len(empty) > 1 else ''} {shown}), and a client without data cannot "
        f"train. To fix it, {fix}."
    )
