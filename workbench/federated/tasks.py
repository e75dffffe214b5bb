"""The learning tasks of the federated workbench: features and labels, split into train and test.

Three tasks, each small enough to train in seconds on a CPU:

- ``digits``: the 8x8 handwritten digits that scikit-learn ships (real data, offline).
- ``synthetic``: :func:`sklearn.datasets.make_classification` with a ``difficulty`` knob.
- ``text``: short customer-support messages (``data/federated/support_tickets.csv``) embedded
  with the bundled frozen ``minilm`` model, so that federated training fits a classifier head
  on an open model. The embeddings are cached on disk after the first load.

This module does not import flwr: the Flower apps call it, and so do plain scripts and tests.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError, WorkbenchError
from workbench.kit.files import atomic_write_bytes
from workbench.kit.paths import cache_dir, data_dir

TASKS: dict[str, str] = {
    "digits": "Handwritten digits 0-9 (scikit-learn, 1,797 8x8 images, 64 features in [0, 1])",
    "synthetic": "Synthetic 4-class problem (2,000 samples, 20 features); difficulty sets overlap",
    "text": "Support-ticket topics (320 messages, 4 classes) on frozen minilm embeddings (384-d)",
}

TEXT_CSV = "federated/support_tickets.csv"
TEXT_MODEL = "minilm"

# Synthetic task: `difficulty` d in [0, 1] maps linearly onto make_classification's knobs.
# d = 0: classes 2.0 apart, 1% of labels flipped at random; d = 1: 0.3 apart, 20% flipped.
_SEP_EASY, _SEP_HARD = 2.0, 0.3
_FLIP_EASY, _FLIP_HARD = 0.01, 0.20


@dataclass(frozen=True, eq=False)
class TaskData:
    """One task's data: float32 feature rows and int64 labels ``0..num_classes-1``.

    The arrays are shared between callers (the loader caches them) and are read-only; copy
    before changing them.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    description: str
    class_names: tuple[str, ...] = ()

    @property
    def num_features(self) -> int:
        """Columns of ``x_train``: the model's input size."""
        return int(self.x_train.shape[1])


def synthetic_knobs(difficulty: float) -> dict[str, float]:
    """The ``make_classification`` settings that a ``difficulty`` in [0, 1] stands for.

    Returns
    -------
    dict
        ``class_sep`` (distance between class centres, smaller is harder) and ``flip_y`` (share
        of labels replaced at random, an upper bound on what any model can get right).
    """
    return {
        "class_sep": _SEP_EASY + (_SEP_HARD - _SEP_EASY) * difficulty,
        "flip_y": _FLIP_EASY + (_FLIP_HARD - _FLIP_EASY) * difficulty,
    }


def load_task(
    name: str,
    *,
    seed: int = 0,
    difficulty: float = 0.5,
    test_fraction: float = 0.25,
    progress: bool = False,
) -> TaskData:
    """Load a task, split into train and test with a stratified split drawn from ``seed``.

    Repeated calls with the same arguments return the same (read-only) object.

    Parameters
    ----------
    name
        One of :data:`TASKS`: ``"digits"``, ``"synthetic"``, ``"text"``.
    seed
        Seeds the split (and, for ``synthetic``, the data itself).
    difficulty
        In [0, 1]; only ``synthetic`` uses it (see :func:`synthetic_knobs`).
    test_fraction
        Share of the samples held out for testing, in (0, 1).
    progress
        Show progress while the ``text`` task loads its embedding model (first load only).

    Returns
    -------
    TaskData

    Raises
    ------
    InvalidInputError
        For an unknown task or an argument outside its range.
    WorkbenchError
        If the ``text`` task's data file is missing or unreadable.
    """
    _check_args(name, seed, difficulty, test_fraction)
    text_digest = ""
    if name == "text":
        # The file's digest is part of the in-process key: an edited CSV is a different task.
        text_digest = _read_text_csv()[2]
        _text_embeddings(progress=progress)  # fills the memo before the cached call
    # Only the synthetic task depends on difficulty: leave it out of the other tasks' cache key.
    key_difficulty = float(difficulty) if name == "synthetic" else 0.0
    return _load_cached(name, int(seed), key_difficulty, float(test_fraction), text_digest)


def clear_cache() -> None:
    """Forget the tasks and embeddings held in this process (the on-disk cache stays)."""
    _load_cached.cache_clear()
    _text_embeddings_memo.clear()


def text_cache_path() -> Path:
    """Where the ``text`` task's embeddings are cached, for the data file and model as they are."""
    return _embedding_cache_path(_read_text_csv()[2])


def _check_args(name: object, seed: object, difficulty: object, test_fraction: object) -> None:
    checks.choice(
        "task",
        name,
        TASKS,
        fix="digits is real handwritten data, synthetic has a difficulty knob, text classifies "
        "support messages on minilm embeddings.",
    )
    checks.whole("seed", seed, 0, 2**32 - 1, fix="Pass e.g. seed=0.")
    checks.number(
        "difficulty",
        difficulty,
        low=0,
        high=1,
        fix="0 gives well separated classes, 1 heavily overlapping, noisy labels.",
    )
    checks.number(
        "test_fraction",
        test_fraction,
        low=0,
        high=1,
        low_open=True,
        high_open=True,
        fix="0.25 holds out a quarter of the samples for testing.",
    )


@functools.lru_cache(maxsize=32)
def _load_cached(
    name: str, seed: int, difficulty: float, test_fraction: float, text_digest: str
) -> TaskData:
    class_names: tuple[str, ...] = ()
    if name == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.data / 16.0).astype(np.float32)
        y = digits.target.astype(np.int64)
    elif name == "synthetic":
        x, y = _synthetic(seed, difficulty)
    else:
        x, y, class_names = _text_features(text_digest)
    x_train, x_test, y_train, y_test = _split(x, y, seed=seed, test_fraction=test_fraction)
    if name == "synthetic":
        # Standardise with the training rows only, as a client would have to.
        mean, std = x_train.mean(axis=0), x_train.std(axis=0) + 1e-8
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    arrays = [
        np.ascontiguousarray(x_train, dtype=np.float32),
        np.ascontiguousarray(y_train, dtype=np.int64),
        np.ascontiguousarray(x_test, dtype=np.float32),
        np.ascontiguousarray(y_test, dtype=np.int64),
    ]
    for array in arrays:
        array.flags.writeable = False
    description = TASKS[name]
    if name == "synthetic":
        knobs = synthetic_knobs(difficulty)
        description += (
            f" (difficulty {difficulty:g}: class_sep {knobs['class_sep']:.2f}, "
            f"{knobs['flip_y']:.0%} labels flipped)"
        )
    return TaskData(
        name=name,
        x_train=arrays[0],
        y_train=arrays[1],
        x_test=arrays[2],
        y_test=arrays[3],
        num_classes=int(y.max()) + 1,
        description=description,
        class_names=class_names or tuple(str(c) for c in range(int(y.max()) + 1)),
    )


def _synthetic(seed: int, difficulty: float) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_classification

    knobs = synthetic_knobs(difficulty)
    x, y = make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=10,
        n_redundant=4,
        n_classes=4,
        n_clusters_per_class=2,
        class_sep=knobs["class_sep"],
        flip_y=knobs["flip_y"],
        random_state=seed,
    )
    return x.astype(np.float32), y.astype(np.int64)


def _split(
    x: np.ndarray, y: np.ndarray, *, seed: int, test_fraction: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    num_classes = len(np.unique(y))
    num_test = math.ceil(test_fraction * len(y))
    if num_test < num_classes or len(y) - num_test < num_classes:
        raise InvalidInputError(
            f"`test_fraction` {test_fraction:g} leaves {num_test} test and {len(y) - num_test} "
            f"training samples out of {len(y)}; a stratified split needs at least one per class "
            f"({num_classes}) on each side. Use a value nearer 0.25."
        )
    return train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)


# --- text task -------------------------------------------------------------------------------

_text_embeddings_memo: dict[str, np.ndarray] = {}


def _read_text_csv() -> tuple[list[str], list[str], str]:
    """(texts, labels, sha256 of the file) of the shipped support tickets."""
    path = data_dir() / TEXT_CSV
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WorkbenchError(
            f"The text task's data file {path} cannot be read ({exc.strerror or exc}). Restore "
            "data/federated/support_tickets.csv from the repository, or point "
            "WORKBENCH_DATA_DIR at a data folder that has it."
        ) from exc
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    if not rows or any(not (row.get("text") or "").strip() or not row.get("label") for row in rows):
        raise WorkbenchError(
            f"The text task's data file {path} must be a CSV with columns `text` and `label` and "
            "a non-empty value in both on every row. Restore it from the repository."
        )
    texts = [row["text"].strip() for row in rows]
    labels = [row["label"].strip() for row in rows]
    return texts, labels, hashlib.sha256(raw).hexdigest()


def _model_id() -> str:
    """The embedding model as it is installed: catalog name and source (package version)."""
    from workbench.models import get_entry

    entry = get_entry(TEXT_MODEL)
    return f"{TEXT_MODEL}|{entry.name}|{entry.source}"


def _embedding_cache_path(csv_sha256: str) -> Path:
    key = hashlib.sha256(f"{csv_sha256}\n{_model_id()}".encode()).hexdigest()[:24]
    return cache_dir() / "federated" / f"support_tickets-{TEXT_MODEL}-{key}.npy"


def _load_model(progress: bool):
    """The embedding runner (a seam for tests)."""
    from workbench.models import load_model

    return load_model(TEXT_MODEL, progress=progress)


def _text_embeddings(*, progress: bool) -> np.ndarray:
    """The embedding of every row of the CSV, in file order: from memory, disk, or the model."""
    texts, _, digest = _read_text_csv()
    if digest in _text_embeddings_memo:
        return _text_embeddings_memo[digest]
    path = _embedding_cache_path(digest)
    embeddings = _read_cached(path, rows=len(texts))
    if embeddings is None:
        runner = _load_model(progress)
        embeddings = np.asarray(runner.embed(texts), dtype=np.float32)
        buffer = io.BytesIO()
        np.save(buffer, embeddings, allow_pickle=False)
        atomic_write_bytes(path, buffer.getvalue())
    embeddings.flags.writeable = False
    _text_embeddings_memo[digest] = embeddings
    return embeddings


def _read_cached(path: Path, *, rows: int) -> np.ndarray | None:
    """The cached embeddings, or None when missing or not what this CSV needs (then recompute)."""
    try:
        value = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if value.ndim != 2 or value.shape[0] != rows or value.dtype != np.float32:
        return None
    return value


def _text_features(digest: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    _, labels, current = _read_text_csv()
    if current != digest:
        raise WorkbenchError(
            "The text task's data file changed while it was being loaded; load the task again."
        )
    x = _text_embeddings(progress=False)
    class_names = tuple(sorted(set(labels)))
    index = {label: i for i, label in enumerate(class_names)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    return x, y, class_names
