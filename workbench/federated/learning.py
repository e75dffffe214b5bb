"""Models and local training for the federated workbench, in plain torch (no flwr).

The Flower client calls :func:`train_local` and :func:`evaluate` on its partition; the central
baseline (:func:`train_central`) runs the same loop on the pooled data. Everything is seeded
explicitly and never touches torch's global random state, so repeated runs give bitwise equal
weights and a client's seed does not depend on what ran before it.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from workbench.kit import checks
from workbench.kit.errors import InvalidInputError

if TYPE_CHECKING:
    from workbench.federated.tasks import TaskData

MODELS = ("logreg", "mlp")


def build_model(
    kind: str, num_features: int, num_classes: int, *, seed: int = 0, hidden: int = 64
) -> nn.Module:
    """A freshly initialised classifier: the same seed gives the same weights.

    Parameters
    ----------
    kind
        ``"logreg"`` (one linear layer: multinomial logistic regression) or ``"mlp"``
        (linear, ReLU, linear with ``hidden`` units).
    num_features, num_classes
        Input and output sizes.
    seed
        Seeds the initial weights (PyTorch's default uniform initialisation), through a private
        generator: torch's global random state is left as it was.
    hidden
        Hidden units of the MLP.

    Returns
    -------
    torch.nn.Module
        Float32 module on the CPU, mapping ``(n, num_features)`` to ``(n, num_classes)`` logits.
    """
    if kind not in MODELS:
        raise InvalidInputError(
            f"`kind` (the model) must be one of {', '.join(MODELS)}; got {kind!r}. logreg is a "
            "single linear layer, mlp adds one hidden layer."
        )
    checks.whole("num_features", num_features, 1)
    checks.whole("num_classes", num_classes, 2, fix="A classifier needs at least 2 classes.")
    if kind == "mlp":
        checks.whole("hidden", hidden, 1, fix="It is the number of MLP hidden units.")
    generator = torch.Generator().manual_seed(_seed(seed))
    if kind == "logreg":
        return nn.Sequential(_linear(num_features, num_classes, generator))
    return nn.Sequential(
        _linear(num_features, hidden, generator),
        nn.ReLU(),
        _linear(hidden, num_classes, generator),
    )


def _linear(fan_in: int, fan_out: int, generator: torch.Generator) -> nn.Linear:
    """nn.Linear with its default initialisation, drawn from ``generator``."""
    # skip_init builds the layer without drawing from the global generator.
    layer = torch.nn.utils.skip_init(nn.Linear, int(fan_in), int(fan_out))
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1.0 / math.sqrt(fan_in)
        layer.bias.uniform_(-bound, bound, generator=generator)
    return layer


def get_weights(model: nn.Module) -> list[np.ndarray]:
    """Copies of the model's tensors as float32 arrays, in ``state_dict`` order."""
    return [
        tensor.detach().cpu().numpy().astype(np.float32, copy=True)
        for tensor in model.state_dict().values()
    ]


def set_weights(model: nn.Module, weights: list[np.ndarray]) -> None:
    """Load arrays from :func:`get_weights` (or an aggregate of them) into ``model`` in place.

    Raises
    ------
    InvalidInputError
        If the number of arrays or any shape differs from the model's.
    """
    state = model.state_dict()
    weights = list(weights)
    if len(weights) != len(state):
        raise InvalidInputError(
            f"`weights` has {len(weights)} arrays but the model has {len(state)} "
            f"({', '.join(state)}); the weights come from a different model kind. Build the "
            "model with the same kind, num_features, num_classes and hidden."
        )
    for (name, tensor), array in zip(state.items(), weights, strict=True):
        shape = tuple(np.shape(array))
        if shape != tuple(tensor.shape):
            raise InvalidInputError(
                f"`weights` for {name} has shape {shape} but the model expects "
                f"{tuple(tensor.shape)}; the weights come from a model of another size. Build "
                "the model with the same num_features, num_classes and hidden."
            )
    with torch.no_grad():
        for tensor, array in zip(state.values(), weights, strict=True):
            tensor.copy_(torch.tensor(np.asarray(array), dtype=tensor.dtype))


def _single_thread(fn):
    """Run ``fn`` with one torch thread, then restore the caller's setting.

    These models hold a few thousand weights: torch's thread pool costs more than it gains on
    them, and far more on a busy machine (7-13x slower on 2 threads under load; see
    benchmarks/bench_fed.py).
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = torch.get_num_threads()
        if before == 1:
            return fn(*args, **kwargs)
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper


@_single_thread
def train_local(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 0.05,
    seed: int = 0,
    proximal_mu: float = 0.0,
    global_weights: list[np.ndarray] | None = None,
) -> dict:
    """Train ``model`` in place with plain SGD over seeded, shuffled mini-batches.

    Parameters
    ----------
    model
        From :func:`build_model`, holding the weights to start from.
    x, y
        Float features ``(n, num_features)`` and int labels ``(n,)``.
    epochs
        Passes over the data.
    batch_size
        Rows per SGD step; the last batch of an epoch may be smaller.
    lr
        SGD learning rate (no momentum, no weight decay).
    seed
        Seeds the batch order: same seed and start weights, bitwise same result.
    proximal_mu
        FedProx: adds ``mu / 2 * ||w - w_global||^2`` to every step's loss, pulling the local
        model toward the global one. 0 is plain local SGD (FedAvg).
    global_weights
        The ``w_global`` of the proximal term; by default the weights ``model`` starts from
        (which is what the client received from the server).

    Returns
    -------
    dict
        ``loss``: mean cross-entropy over all examples seen while training (without the
        proximal term; NaN when ``x`` is empty), ``num_examples``: ``len(x)``, ``steps``: SGD
        steps taken.
    """
    _check_training_args(epochs, batch_size, lr, seed, proximal_mu)
    features, targets = _tensors(x, y, model)
    n = len(targets)
    if n == 0:
        return {"loss": float("nan"), "num_examples": 0, "steps": 0}
    anchors = _anchors(model, global_weights) if proximal_mu > 0 else None
    generator = torch.Generator().manual_seed(_seed(seed))
    model.train()
    total_loss, steps = 0.0, 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            data_loss = _sgd_step(model, features[batch], targets[batch], lr, anchors, proximal_mu)
            total_loss += data_loss * len(batch)
            steps += 1
    return {"loss": total_loss / (n * epochs), "num_examples": n, "steps": steps}


def _sgd_step(
    model: nn.Module,
    features: torch.Tensor,
    targets: torch.Tensor,
    lr: float,
    anchors: list[torch.Tensor] | None,
    proximal_mu: float,
) -> float:
    """One plain SGD step on one batch; returns the batch's mean cross-entropy (no proximal term)."""
    params = list(model.parameters())
    data_loss = F.cross_entropy(model(features), targets)
    loss = data_loss
    if anchors is not None:
        proximal = sum(((p - a) ** 2).sum() for p, a in zip(params, anchors, strict=True))
        loss = data_loss + 0.5 * proximal_mu * proximal
    for param in params:
        param.grad = None
    loss.backward()
    with torch.no_grad():
        for param in params:
            param.add_(param.grad, alpha=-lr)
    return data_loss.item()


def _anchors(model: nn.Module, global_weights: list[np.ndarray] | None) -> list[torch.Tensor]:
    """The ``w_global`` tensors of the proximal term, one per parameter, checked against them."""
    params = list(model.parameters())
    source = get_weights(model) if global_weights is None else list(global_weights)
    if len(source) != len(params):
        raise InvalidInputError(
            f"`global_weights` has {len(source)} arrays but the model has {len(params)}; "
            "pass the weights the server sent (get_weights of the global model)."
        )
    anchors = [
        torch.tensor(np.asarray(w), dtype=p.dtype) for w, p in zip(source, params, strict=True)
    ]
    for anchor, param in zip(anchors, params, strict=True):
        if anchor.shape != param.shape:
            raise InvalidInputError(
                f"`global_weights` holds an array of shape {tuple(anchor.shape)} where the "
                f"model has {tuple(param.shape)}; pass the global model's own weights."
            )
    return anchors


@_single_thread
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray) -> dict:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``.

    Returns
    -------
    dict
        ``loss``, ``accuracy`` (share of rows whose largest logit is the label) and
        ``num_examples``; loss and accuracy are NaN when ``x`` is empty.
    """
    features, targets = _tensors(x, y, model)
    n = len(targets)
    if n == 0:
        return {"loss": float("nan"), "accuracy": float("nan"), "num_examples": 0}
    model.eval()
    with torch.inference_mode():
        logits = model(features)
        loss = F.cross_entropy(logits, targets).item()
        accuracy = (logits.argmax(dim=1) == targets).float().mean().item()
    return {"loss": float(loss), "accuracy": float(accuracy), "num_examples": n}


def train_central(
    task: TaskData, *, kind: str, epochs: int, batch_size: int, lr: float, seed: int
) -> dict:
    """The centrally trained baseline: the same model and SGD on all clients' data pooled.

    Returns
    -------
    dict
        ``accuracy`` and ``loss`` on the task's test set after the last epoch, and ``history``:
        the test accuracy after each epoch.
    """
    _check_training_args(epochs, batch_size, lr, seed)
    model = build_model(kind, task.x_train.shape[1], task.num_classes, seed=seed)
    history = []
    for epoch in range(epochs):
        # One seed per epoch, derived from (seed, epoch): a fresh batch order every pass.
        epoch_seed = int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])
        train_local(
            model, task.x_train, task.y_train, batch_size=batch_size, lr=lr, seed=epoch_seed
        )
        history.append(evaluate(model, task.x_test, task.y_test)["accuracy"])
    final = evaluate(model, task.x_test, task.y_test)
    return {"accuracy": final["accuracy"], "loss": final["loss"], "history": history}


def _seed(seed: object) -> int:
    return int(checks.whole("seed", seed, 0, 2**63 - 1, fix="Pass e.g. seed=0."))


def _check_training_args(
    epochs: object, batch_size: object, lr: object, seed: object, proximal_mu: object = 0.0
) -> None:
    checks.whole("epochs", epochs, 1, fix="It is the number of local passes over the data.")
    checks.whole("batch_size", batch_size, 1)
    checks.number(
        "lr", lr, low=0, low_open=True, fix="It is the SGD learning rate; 0.05 suits these models."
    )
    _seed(seed)
    checks.number(
        "proximal_mu",
        proximal_mu,
        low=0,
        fix="0 turns the FedProx term off, 0.01 to 1 are usual values.",
    )


def _tensors(x: np.ndarray, y: np.ndarray, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 features and int64 labels as tensors (copies: task arrays are read-only)."""
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise InvalidInputError(
            f"`x` must be 2-D (rows, features) and `y` 1-D with one label per row; got shapes "
            f"{x.shape} and {y.shape}."
        )
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if layers and len(x) and x.shape[1] != layers[0].in_features:
        raise InvalidInputError(
            f"`x` has {x.shape[1]} features but the model takes {layers[0].in_features}; build "
            "the model with num_features equal to the task's feature count."
        )
    if layers and len(y) and not (y.min() >= 0 and y.max() < layers[-1].out_features):
        raise InvalidInputError(
            f"`y` holds labels from {y.min()} to {y.max()} but the model has "
            f"{layers[-1].out_features} classes (labels 0 to {layers[-1].out_features - 1}); "
            "build the model with the task's num_classes."
        )
    return torch.tensor(x), torch.tensor(y, dtype=torch.int64)
