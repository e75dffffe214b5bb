"""What a federated run needs to continue after a finished round, as one ``.npz`` file.

Every random draw of a round is derived from (seed, round) alone (the fleet's availability and
dropouts, each client's batch order, the DP noise), so the state carried from one round to the
next is small: the global model's weights, the simulated clock, the server optimizer's moments
(FedAdam) and the privacy accountant's ledger. :class:`RoundState` holds them;
:meth:`RoundState.to_bytes` writes them with ``numpy.savez`` and reads them back with
``allow_pickle=False``, so loading a checkpoint never runs code.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.kit.errors import CorruptRunError

FORMAT = 1
OPTIMIZER_MOMENTS = ("m_t", "v_t")  # FedAdam's first and second moments, by array name
_SEP = "/"  # npz key parts: weights/0, m_t/<array name>, meta


@dataclass
class RoundState:
    """The server's state after round ``round``: enough to run round ``round + 1`` on."""

    round: int
    clock_s: float
    weights: list[np.ndarray]
    moments: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    accountant: dict[str, Any] | None = None

    def to_bytes(self) -> bytes:
        """The state as ``.npz`` bytes (arrays, plus a JSON ``meta`` string)."""
        meta = {
            "format": FORMAT,
            "round": int(self.round),
            "clock_s": float(self.clock_s),
            "weights": len(self.weights),
            "moments": {name: list(arrays) for name, arrays in self.moments.items()},
            "accountant": self.accountant,
        }
        arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
        for i, weight in enumerate(self.weights):
            arrays[f"weights{_SEP}{i}"] = np.asarray(weight)
        for name, moment in self.moments.items():
            for key, value in moment.items():
                arrays[f"{name}{_SEP}{key}"] = np.asarray(value)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "the checkpoint") -> RoundState:
        """The inverse of :meth:`to_bytes`.

        Raises
        ------
        CorruptRunError
            When ``data`` is not a checkpoint this version wrote.
        """
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                stored = {name: npz[name] for name in npz.files}
            meta = json.loads(str(stored["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}, this version reads {FORMAT}")
            weights = [stored[f"weights{_SEP}{i}"] for i in range(int(meta["weights"]))]
            moments = {
                name: {key: stored[f"{name}{_SEP}{key}"] for key in keys}
                for name, keys in meta["moments"].items()
            }
            return cls(
                round=int(meta["round"]),
                clock_s=float(meta["clock_s"]),
                weights=weights,
                moments=moments,
                accountant=meta["accountant"],
            )
        except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            raise CorruptRunError(
                f"{source} cannot be read ({type(exc).__name__}: {exc}); the run cannot be "
                "continued from it. Run the experiment again with `workbench fed run`."
            ) from exc


def _layers(strategy: Any) -> list[Any]:
    """The strategy and the strategies it wraps (the DP wrapper holds the real one)."""
    layers = []
    while strategy is not None and strategy not in layers:
        layers.append(strategy)
        strategy = getattr(strategy, "strategy", None)
    return layers


def strategy_state(strategy: Any) -> tuple[dict[str, dict[str, np.ndarray]], dict | None]:
    """The optimizer moments and the privacy ledger a strategy carries between rounds."""
    moments: dict[str, dict[str, np.ndarray]] = {}
    accountant = None
    for layer in _layers(strategy):
        for name in OPTIMIZER_MOMENTS:
            value = getattr(layer, name, None)
            if value:
                moments[name] = {key: np.array(array, copy=True) for key, array in value.items()}
        if getattr(layer, "accountant", None) is not None:
            accountant = layer.accountant.state_dict()
    return moments, accountant


def restore_strategy(strategy: Any, state: RoundState) -> None:
    """Put the moments and the privacy ledger of ``state`` back into a fresh ``strategy``."""
    for layer in _layers(strategy):
        for name in OPTIMIZER_MOMENTS:
            if name in state.moments and hasattr(layer, name):
                setattr(layer, name, {k: np.array(v) for k, v in state.moments[name].items()})
        if state.accountant is not None and getattr(layer, "accountant", None) is not None:
            layer.accountant.load_state_dict(state.accountant)


__all__ = ["RoundState", "restore_strategy", "strategy_state"]
