"""Federated learning tasks: digits, synthetic with a difficulty knob, text on cached embeddings."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from workbench.federated import tasks
from workbench.federated.learning import train_central
from workbench.federated.tasks import TASKS, load_task, synthetic_knobs
from workbench.kit.errors import InvalidInputError, WorkbenchError


@pytest.fixture(autouse=True)
def _fresh_tasks():
    """Each test starts with nothing held in memory (the on-disk caches are per test run)."""
    tasks.clear_cache()
    yield
    tasks.clear_cache()


def test_task_names_are_the_three_documented_ones():
    """The task registry lists digits, synthetic and text, each with a description."""
    assert list(TASKS) == ["digits", "synthetic", "text"]
    assert all(isinstance(text, str) and text for text in TASKS.values())


def test_digits_shapes_classes_and_range():
    """Digits: 1,797 rows of 64 features in [0, 1], ten classes in both train and test."""
    task = load_task("digits")

    assert task.x_train.shape == (1347, 64) and task.x_test.shape == (450, 64)
    assert task.x_train.dtype == np.float32 and task.y_train.dtype == np.int64
    assert task.x_train.min() == 0.0 and task.x_train.max() == 1.0
    assert task.num_classes == 10 and task.num_features == 64
    assert set(task.y_train) == set(task.y_test) == set(range(10))


def test_split_is_stratified():
    """Every class has about the same share of the test set as of the whole set."""
    task = load_task("digits", test_fraction=0.25)

    share = np.bincount(task.y_test) / (np.bincount(task.y_train) + np.bincount(task.y_test))
    assert np.all(np.abs(share - 0.25) < 0.02)


def test_task_arrays_are_read_only_and_shared():
    """The cached arrays cannot be changed by one caller under another's feet."""
    first = load_task("digits", seed=3)

    assert load_task("digits", seed=3) is first
    with pytest.raises(ValueError):
        first.x_train[0, 0] = 5.0


def test_seed_changes_the_split():
    """Another seed holds out other rows; the same seed the same rows."""
    a = load_task("digits", seed=0)
    tasks.clear_cache()
    again = load_task("digits", seed=0)
    b = load_task("digits", seed=1)

    assert np.array_equal(a.x_test, again.x_test)
    assert not np.array_equal(a.x_test, b.x_test)


def test_synthetic_difficulty_mapping_endpoints():
    """Difficulty 0 is well separated with 1% noise; 1 overlaps with 20% labels flipped."""
    assert synthetic_knobs(0.0) == pytest.approx({"class_sep": 2.0, "flip_y": 0.01})
    assert synthetic_knobs(1.0) == pytest.approx({"class_sep": 0.3, "flip_y": 0.20})


def test_synthetic_is_standardised_and_balanced():
    """Synthetic: 1,500 training rows of 20 standardised features and four classes."""
    task = load_task("synthetic", difficulty=0.5)

    assert task.x_train.shape == (1500, 20) and task.num_classes == 4
    assert np.allclose(task.x_train.mean(axis=0), 0.0, atol=1e-5)
    assert np.allclose(task.x_train.std(axis=0), 1.0, atol=1e-3)
    assert "difficulty 0.5" in task.description


def test_synthetic_difficulty_lowers_the_reachable_accuracy():
    """The same model learns the easy synthetic task far better than the hard one."""
    settings = {"kind": "mlp", "epochs": 5, "batch_size": 32, "lr": 0.05, "seed": 0}

    easy = train_central(load_task("synthetic", difficulty=0.0), **settings)["accuracy"]
    hard = train_central(load_task("synthetic", difficulty=1.0), **settings)["accuracy"]

    assert easy > 0.8
    assert hard < easy - 0.3


def test_unknown_task_names_the_field_and_the_choices():
    """An unknown task name says `task` and lists the valid names."""
    with pytest.raises(InvalidInputError) as info:
        load_task("mnist")

    message = str(info.value)
    assert "`task`" in message and "'mnist'" in message
    assert all(name in message for name in TASKS)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"difficulty": -0.1}, "difficulty"),
        ({"difficulty": 1.5}, "difficulty"),
        ({"difficulty": float("nan")}, "difficulty"),
        ({"test_fraction": 0.0}, "test_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"test_fraction": 0.001}, "test_fraction"),  # 2 test rows for 10 classes
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_arguments_name_their_field(kwargs, field):
    """Out-of-range arguments raise InvalidInputError naming the argument."""
    with pytest.raises(InvalidInputError, match=f"`{field}`"):
        load_task("digits", **kwargs)


# --- text task -------------------------------------------------------------------------------


class _FakeRunner:
    """Stands in for minilm: embeds a text as a few numbers derived from its words."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        return np.array(
            [[len(t), t.count("a"), t.count("e"), sum(map(ord, t)) % 97] for t in texts],
            dtype=np.float32,
        )


@pytest.fixture
def small_text_data(tmp_path, monkeypatch, repo_root):
    """A data folder whose support_tickets.csv has 12 rows of 4 classes, and a fake model."""
    (tmp_path / "federated").mkdir()
    shutil.copy(repo_root / "data" / "models.toml", tmp_path / "models.toml")
    rows = [f"{label} message number {i}" for label in ("a", "b", "c", "d") for i in range(3)]
    labels = [row.split()[0] for row in rows]
    csv_text = "text,label\n" + "".join(f"{r},{lab}\n" for r, lab in zip(rows, labels, strict=True))
    (tmp_path / "federated" / "support_tickets.csv").write_text(csv_text, encoding="utf-8")
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    runner = _FakeRunner()
    monkeypatch.setattr(tasks, "_load_model", lambda progress: runner)
    return tmp_path, runner


def test_text_embeddings_are_cached_on_disk(small_text_data, monkeypatch):
    """The second load, in a fresh process state, reads the cache and never loads the model."""
    folder, runner = small_text_data
    first = load_task("text", test_fraction=0.5)
    path = tasks.text_cache_path()

    tasks.clear_cache()

    def no_model(progress):
        raise AssertionError("the model was loaded although the embeddings are cached")

    monkeypatch.setattr(tasks, "_load_model", no_model)
    second = load_task("text", test_fraction=0.5)

    assert runner.calls == 1
    assert path.is_file() and path.parent == folder / "cache" / "federated"
    assert np.array_equal(first.x_train, second.x_train)
    assert second.class_names == ("a", "b", "c", "d") and second.num_classes == 4


def test_editing_the_text_file_invalidates_the_cache(small_text_data):
    """A changed CSV gets a new cache file and new embeddings, even within one process."""
    folder, runner = small_text_data
    before = load_task("text", test_fraction=0.5)
    old_path = tasks.text_cache_path()
    csv_path = folder / "federated" / "support_tickets.csv"
    csv_path.write_text(
        csv_path.read_text(encoding="utf-8").replace("number", "nr"), encoding="utf-8"
    )

    after = load_task("text", test_fraction=0.5)

    assert tasks.text_cache_path() != old_path
    assert runner.calls == 2
    assert not np.array_equal(before.x_train, after.x_train)


def test_missing_text_file_says_which_file(small_text_data):
    """Without the CSV the error names the file and how to get it back."""
    folder, _ = small_text_data
    (folder / "federated" / "support_tickets.csv").unlink()

    with pytest.raises(WorkbenchError, match=r"support_tickets\.csv") as info:
        load_task("text")

    assert "WORKBENCH_DATA_DIR" in str(info.value)


def test_shipped_text_data_is_balanced_with_source():
    """The shipped CSV has 4 balanced classes of short texts and a README naming its source."""
    texts, labels, _ = tasks._read_text_csv()
    readme = (tasks.data_dir() / "federated" / "README.md").read_text(encoding="utf-8")

    counts = {label: labels.count(label) for label in set(labels)}
    assert set(counts) == {"account", "billing", "shipping", "technical"}
    assert len(set(counts.values())) == 1 and 240 <= len(texts) <= 400
    assert len(set(texts)) == len(texts)
    assert "written for this project" in readme and "2026-11-30" in readme and "CC0" in readme


@pytest.mark.integration
def test_text_task_on_minilm_embeddings(minilm, monkeypatch):
    """Text on real minilm embeddings: 384 features, and a linear head learns the topics."""
    monkeypatch.setattr(tasks, "_load_model", lambda progress: minilm)

    task = load_task("text")
    result = train_central(task, kind="logreg", epochs=20, batch_size=32, lr=0.05, seed=0)

    assert task.x_train.shape == (240, 384) and task.x_test.shape == (80, 384)
    assert task.class_names == ("account", "billing", "shipping", "technical")
    assert np.allclose(np.linalg.norm(task.x_train, axis=1), 1.0, atol=1e-4)
    assert tasks.text_cache_path().is_file()
    assert result["accuracy"] > 0.85  # 0.96 seen with seed 0
