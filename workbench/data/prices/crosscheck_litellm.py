"""Compare the catalog's per-token API prices with litellm's public price list.

litellm (https://github.com/BerriAI/litellm) ships ``model_prices_and_context_window_backup.json``
inside its wheel: a community-kept map from a model key to USD prices *per token*. It is a
second opinion, not the provider's page; a match says two independent lists agree, a
difference says a row needs a look.

Redo the cross-check::

    .venv/bin/pip download --no-deps litellm -d /tmp/lt      # do not install it
    .venv/bin/python data/prices/crosscheck_litellm.py /tmp/lt/litellm-*.whl

The argument may also be the JSON file itself. The table lists every row of
``api_tokens.csv`` with the litellm key it was matched to, both prices in USD per million
tokens, litellm's ``deprecation_date`` and a status: ``match`` (equal to rounding),
``differs`` or ``missing`` (no key for that provider and model, or no price in it).

A match is not a fresh check by itself: look at ``deprecation_date`` (a model the provider
has retired keeps its last price in litellm), then set ``as_of`` to the date of the litellm
release and say so in the row's ``notes``. The files inside a litellm wheel are all dated
1980-01-01 (a reproducible build) and its METADATA carries no date; pip can still tell the
upload day, e.g. the newest version uploaded before a day::

    .venv/bin/pip index versions litellm --uploaded-prior-to 2026-11-21T00:00:00Z

Instance (hourly GPU/CPU) prices are not in litellm; this script does not look at them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

#: The member of the litellm wheel that holds the price list.
LITELLM_JSON_MEMBER = "litellm/model_prices_and_context_window_backup.json"

#: Our provider name -> litellm's ``litellm_provider`` (also its key prefix, e.g. ``groq/...``).
LITELLM_PROVIDERS = {
    "anthropic": "anthropic",
    "deepseek": "deepseek",
    "fireworks": "fireworks_ai",
    "google": "gemini",
    "groq": "groq",
    "mistral": "mistral",
    "openai": "openai",
    "together": "together_ai",
}

#: Relative difference below which two prices are the same price written differently.
DEFAULT_REL_TOL = 0.005

CROSSCHECK_COLUMNS = (
    "provider",
    "model",
    "litellm_key",
    "ours_in_usd_per_mtok",
    "ours_out_usd_per_mtok",
    "litellm_in_usd_per_mtok",
    "litellm_out_usd_per_mtok",
    "deprecation_date",
    "status",
)


def read_litellm_prices(path: Path | str) -> dict[str, Any]:
    """The litellm price map, from a litellm wheel or from the JSON file itself.

    Raises
    ------
    KeyError
        When a wheel has no :data:`LITELLM_JSON_MEMBER`.
    """
    path = Path(path)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return json.loads(wheel.read(LITELLM_JSON_MEMBER))
    return json.loads(path.read_text(encoding="utf-8"))


def litellm_key(provider: str, model: str, litellm: Mapping[str, Any]) -> str | None:
    """The litellm key priced for ``provider``'s ``model``, or ``None``.

    Tries ``<litellm provider>/<model>`` and then the bare ``model``, and accepts a key only
    when its ``litellm_provider`` is the provider's own: ``gemini-2.5-flash`` alone is the
    Vertex AI entry, which is priced differently from the Gemini API.
    """
    expected = LITELLM_PROVIDERS.get(provider)
    if expected is None:
        return None
    for key in (f"{expected}/{model}", model):
        entry = litellm.get(key)
        if isinstance(entry, Mapping) and entry.get("litellm_provider") == expected:
            return key
    return None


def _per_mtok(value: Any) -> float | None:
    return None if value is None else float(value) * 1e6


def _same(ours: float, theirs: float, rel_tol: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=rel_tol, abs_tol=1e-9)


def crosscheck(
    rows: Iterable[Mapping[str, Any]],
    litellm: Mapping[str, Any],
    rel_tol: float = DEFAULT_REL_TOL,
) -> list[dict[str, Any]]:
    """Each API row beside litellm's price for the same provider and model.

    Parameters
    ----------
    rows
        Mappings with ``provider``, ``model``, ``input_usd_per_mtok`` and
        ``output_usd_per_mtok`` (``ApiPrice.to_dict()`` or a CSV row read as numbers).
    litellm
        The litellm price map (key -> entry with ``input_cost_per_token`` and
        ``output_cost_per_token`` in USD per token).
    rel_tol
        Relative difference still counted as a match (rounding).

    Returns
    -------
    list[dict]
        One record per row with the fields of :data:`CROSSCHECK_COLUMNS`. An embedding entry
        without an output price counts as output 0 (embeddings bill input tokens only).
    """
    records = []
    for row in rows:
        provider, model = row["provider"], row["model"]
        ours_in = float(row["input_usd_per_mtok"])
        ours_out = float(row["output_usd_per_mtok"])
        key = litellm_key(provider, model, litellm)
        entry = litellm[key] if key is not None else {}
        theirs_in = _per_mtok(entry.get("input_cost_per_token"))
        theirs_out = _per_mtok(entry.get("output_cost_per_token"))
        if theirs_out is None and entry.get("mode") == "embedding":
            theirs_out = 0.0
        if theirs_in is None or theirs_out is None:
            status = "missing"
        elif _same(ours_in, theirs_in, rel_tol) and _same(ours_out, theirs_out, rel_tol):
            status = "match"
        else:
            status = "differs"
        records.append(
            {
                "provider": provider,
                "model": model,
                "litellm_key": key or "",
                "ours_in_usd_per_mtok": ours_in,
                "ours_out_usd_per_mtok": ours_out,
                "litellm_in_usd_per_mtok": theirs_in,
                "litellm_out_usd_per_mtok": theirs_out,
                "deprecation_date": entry.get("deprecation_date") or "",
                "status": status,
            }
        )
    return records


def _format(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(records: list[dict[str, Any]]) -> str:
    """The records as a plain fixed-width text table."""
    header = list(CROSSCHECK_COLUMNS)
    lines = [header] + [[_format(r[c]) for c in header] for r in records]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in lines
    )


def main(argv: list[str] | None = None) -> int:
    """Print the cross-check table (or JSON records) for the shipped or a given catalog."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("litellm", help="a litellm wheel (.whl) or its price JSON file")
    parser.add_argument(
        "--prices-dir",
        default=str(Path(__file__).resolve().parent),
        help="the folder holding api_tokens.csv (default: this script's folder)",
    )
    parser.add_argument("--rel-tol", type=float, default=DEFAULT_REL_TOL, help="rounding allowed")
    parser.add_argument("--json", action="store_true", help="print JSON records, not a table")
    args = parser.parse_args(argv)

    from workbench.cost import load_prices  # the script's only project import

    catalog = load_prices(args.prices_dir)
    rows = [row.to_dict() for row in catalog.api.values()]
    records = crosscheck(rows, read_litellm_prices(args.litellm), args.rel_tol)
    print(json.dumps(records, indent=1) if args.json else format_table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
