"""The eval room's config: what to evaluate (:class:`EvalConfig`), on which set, and how.

Every field is declared once with :func:`workbench.kit.fields.spec`; ``workbench eval`` builds its
flags from them and ``check_fields`` refuses a bad value naming the field, its flag and the
accepted range, before a model is loaded or a request is sent.

A target is either local (a catalog alias, a model folder or a GGUF file, run with
:func:`workbench.models.load_model`) or an OpenAI-compatible endpoint (``base_url`` and
``model``; the API key is read from the environment variable named by ``api_key_env`` and never
stored). A target that starts with ``http://`` or ``https://`` is taken as the endpoint's base URL.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from workbench.cloud.config import check_env_name
from workbench.kit import checks
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import check_fields, spec
from workbench.kit.urls import without_userinfo

# The card fields a flag may set (the choices of workbench.eval.sets' TASKS and SCORINGS).
SET_TASKS = ("chat", "embeddings")
SET_SCORINGS = ("label", "exact", "number", "nearest-neighbour")
#: How an embedding set's test items get their label.
CLASSIFIERS = ("nearest-neighbour", "logreg-head")

#: The variant every other variant is compared with.
REFERENCE_VARIANT = "fp32"
_URL = re.compile(r"https?://[^/\s]+", re.IGNORECASE)


def is_url(text: Any) -> bool:
    """Whether ``text`` looks like an endpoint's base URL (``http://...`` or ``https://...``)."""
    return isinstance(text, str) and bool(_URL.match(text.strip()))


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: a target (local model or endpoint), a set, and the decoding limits."""

    target: str = spec(
        "",
        help="catalog alias, model folder or .gguf file (or an endpoint's base URL)",
        flag="",
    )
    eval_set: str = spec(
        "",
        help="a shipped set's name (data/evals/) or the path of your own .jsonl/.csv set",
        flag="--set",
    )
    variant: str | None = spec(
        None,
        help="local models: the variant to evaluate (fp32 unless told: bf16, int8, ...); a "
        "variant other than fp32 is also compared with fp32's answers",
        optional=True,
    )
    limit: int | None = spec(
        None,
        help="evaluate only this many items (scored items; drawn with --seed, same draw for "
        "every target)",
        unit="items",
        low=1,
        whole=True,
        optional=True,
    )
    max_new_tokens: int | None = spec(
        None,
        help="tokens each answer may have (default: the set's card)",
        unit="tokens",
        low=1,
        high=4096,
        whole=True,
        optional=True,
    )
    k: int | None = spec(
        None,
        help="embedding sets: recall@k counts a hit among the k nearest (default: the set's card)",
        low=1,
        whole=True,
        optional=True,
    )
    classifier: str = spec(
        "nearest-neighbour",
        help="embedding sets: nearest-neighbour (the label of the closest train item) or "
        "logreg-head (a logistic-regression head trained on the train items' embeddings, as "
        "the federated text task trains one)",
        choices=CLASSIFIERS,
    )
    task: str | None = spec(
        None,
        help="your own set without a card: chat or embeddings (over the card's)",
        choices=SET_TASKS,
        optional=True,
    )
    scoring: str | None = spec(
        None,
        help="your own set without a card: label, exact, number or nearest-neighbour",
        choices=SET_SCORINGS,
        optional=True,
    )
    labels: tuple[str, ...] | None = spec(
        None, help="your own set: the labels, comma-separated (over the card's)", optional=True
    )
    prompt: str | None = spec(
        None,
        help="your own set: the prompt, with {input} and {labels} (over the card's)",
        optional=True,
    )
    base_url: str | None = spec(
        None,
        help="an OpenAI-compatible endpoint's base URL, up to and including /v1",
        optional=True,
    )
    model: str | None = spec(
        None, help="endpoints: the model name the endpoint serves", optional=True
    )
    api_key_env: str | None = spec(
        None,
        help="endpoints: NAME of the environment variable holding the API key (never the key)",
        optional=True,
    )
    timeout_s: float = spec(
        120.0,
        help="endpoints: seconds one request may take",
        unit="s",
        low=0,
        low_open=True,
        flag="--timeout",
    )
    retries: int = spec(
        2, help="endpoints: extra tries of an item on 429, 5xx, timeouts, drops", low=0, whole=True
    )
    seed: int = spec(0, help="seed of the --limit draw", low=0, whole=True)
    label: str = spec("", help="free text naming the run")

    def __post_init__(self) -> None:
        for name in ("target", "label"):
            if not isinstance(getattr(self, name), str):
                raise checks.invalid(name, getattr(self, name), "text")
        object.__setattr__(self, "target", self.target.strip())
        checks.text(
            "eval_set",
            self.eval_set,
            flag="--set",
            fix="Name a shipped set (`workbench eval --list-sets` lists them) or give a .jsonl or .csv file.",
        )
        if isinstance(self.labels, (list, str)):
            labels = self.labels.split(",") if isinstance(self.labels, str) else self.labels
            object.__setattr__(self, "labels", tuple(str(v).strip() for v in labels))
        check_fields(self)
        check_env_name(self.api_key_env)
        if is_url(self.target):
            if self.base_url not in (None, self.target):
                raise InvalidInputError(
                    f"The target {self.target!r} is a URL and --base-url {self.base_url!r} is "
                    "another: give the endpoint's base URL once."
                )
            object.__setattr__(self, "base_url", self.target)
        if self.base_url is not None:
            self._check_endpoint()
        else:
            self._check_local()

    def _check_endpoint(self) -> None:
        if not is_url(self.base_url):
            raise checks.invalid(
                "base_url",
                self.base_url,
                "an http:// or https:// URL such as http://127.0.0.1:8000/v1",
                flag="--base-url",
            )
        object.__setattr__(self, "base_url", self.base_url.strip().rstrip("/"))
        if self.target and self.target != self.base_url and not is_url(self.target):
            raise InvalidInputError(
                f"Both a local target ({self.target!r}) and an endpoint (--base-url "
                f"{self.base_url}) were given: evaluate one at a time (drop the target to "
                "evaluate the endpoint)."
            )
        if not isinstance(self.model, str) or not self.model.strip():
            raise InvalidInputError(
                f"`model` (--model) is missing: an endpoint eval ({self.base_url}) needs the "
                "name of the model the endpoint serves, e.g. --model smollm2-135m "
                "(GET {base_url}/models lists them)."
            )
        if self.variant not in (None, REFERENCE_VARIANT):
            raise InvalidInputError(
                f"`variant` (--variant) {self.variant!r} applies to local models only; an "
                "endpoint serves whatever variant it serves. Drop --variant."
            )
        object.__setattr__(self, "variant", None)

    def _check_local(self) -> None:
        if not self.target:
            raise InvalidInputError(
                "No target: name a local model (a catalog alias such as smollm2-135m, a model "
                "folder or a .gguf file), or an endpoint with --base-url URL --model NAME."
            )
        for name in ("model", "api_key_env"):
            if getattr(self, name) is not None:
                flag = "--" + name.replace("_", "-")
                raise InvalidInputError(
                    f"`{name}` ({flag}) applies to endpoints only, and {self.target!r} is a local "
                    f"model: drop {flag}, or add --base-url to evaluate an endpoint."
                )
        if self.variant is None:  # saved runs say which variant they evaluated
            object.__setattr__(self, "variant", REFERENCE_VARIANT)
        checks.text("variant", self.variant, flag="--variant")

    def card_overrides(self) -> dict[str, Any] | None:
        """The card fields the flags set (``None`` when none: the set's own card decides)."""
        values = {
            "task": self.task,
            "scoring": self.scoring,
            "labels": list(self.labels) if self.labels is not None else None,
            "prompt": self.prompt,
        }
        given = {key: value for key, value in values.items() if value is not None}
        return given or None

    @property
    def is_endpoint(self) -> bool:
        """Whether the target is an OpenAI-compatible endpoint (else a local model)."""
        return self.base_url is not None

    @property
    def variant_name(self) -> str | None:
        """The variant evaluated: ``fp32`` unless told, ``None`` for an endpoint."""
        if self.is_endpoint:
            return None
        return self.variant or REFERENCE_VARIANT

    @property
    def model_name(self) -> str:
        """The model as the decision names it: the endpoint's model, or the local target."""
        return str(self.model) if self.is_endpoint else self.target

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the key's variable name, never the key; tuples as lists; a URL's
        ``user:password@`` left out: it is sent, never recorded)."""
        data = asdict(self)
        for name in ("target", "base_url"):
            if is_url(data[name]):
                data[name] = without_userinfo(data[name])
        if self.labels is not None:
            data["labels"] = list(self.labels)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalConfig:
        """The inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


__all__ = ["CLASSIFIERS", "REFERENCE_VARIANT", "SET_SCORINGS", "SET_TASKS", "EvalConfig", "is_url"]
