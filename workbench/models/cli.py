"""``workbench models``: list the catalog, inspect a model, try it on a text."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.kit.cli import (
    add_config_flags,
    add_json_option,
    check_writable,
    config_values,
    json_to_stdout,
    write_json,
)

# The fields of LoadOptions a user sets on the command line (progress follows the terminal).
LOAD_FLAGS = ("allow_pickle", "trust_remote_code", "allow_download", "task")


def add_parser(commands: Any) -> None:
    """Add ``models list|info|try`` to the ``workbench`` subparsers."""
    models = commands.add_parser("models", help="list, inspect and try open models")
    verbs = models.add_subparsers(dest="verb", required=True)

    listing = verbs.add_parser("list", help="the model catalog as a table")
    add_json_option(listing, "one record per model")
    listing.set_defaults(handler=_models_list)

    info = verbs.add_parser("info", help="load a model and show what it is")
    info.add_argument("name", help="catalog alias, folder, .gguf file or hub id (owner/name)")
    add_json_option(info, "the model card")
    add_load_flags(info)
    info.set_defaults(handler=_models_info)

    trial = verbs.add_parser("try", help="embed a text, or generate from it")
    trial.add_argument("name", help="catalog alias, folder, .gguf file or hub id (owner/name)")
    trial.add_argument("text", help="the text to embed or to answer")
    trial.add_argument(
        "--max-new-tokens", type=int, default=64, help="most tokens to generate (default 64)"
    )
    add_json_option(trial, "the embedding, or the generated text and its tokens")
    add_load_flags(trial)
    trial.set_defaults(handler=_models_try)


def add_load_flags(parser: argparse.ArgumentParser) -> None:
    """Add the opt-ins of :class:`~workbench.models.LoadOptions` as flags (help from its fields)."""
    from workbench.models.config import LoadOptions

    add_config_flags(parser, LoadOptions, LOAD_FLAGS)


def _load(args: argparse.Namespace):
    from workbench.models import LoadOptions, load_model

    options = config_values(args, LoadOptions)
    return load_model(args.name, **options, progress=sys.stderr.isatty())


def _models_list(args: argparse.Namespace) -> None:
    from workbench.models import load_catalog

    check_writable(args.json)
    rows = [entry.to_dict() for entry in load_catalog().values()]
    write_json(args.json, rows)
    if json_to_stdout(args):
        return
    import pandas as pd

    table = pd.DataFrame(rows)[["alias", "task", "params", "license", "installed", "name"]]
    table["params"] = table["params"].map(lambda n: f"{n / 1e6:,.1f} M")
    table["installed"] = table["installed"].map({True: "yes", False: "no"})
    print(table.to_string(index=False))


def _models_info(args: argparse.Namespace) -> None:
    check_writable(args.json)
    info = _load(args).info
    write_json(args.json, info.to_dict())
    if json_to_stdout(args):
        return
    rows = info.summary_rows()
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        print(f"{label:<{width}}  {text}")


def _models_try(args: argparse.Namespace) -> None:
    check_writable(args.json)
    runner = _load(args)
    if runner.task == "embeddings":
        vector = runner.embed([args.text])[0]
        write_json(
            args.json, {"model": runner.info.name, "dim": len(vector), "embedding": vector.tolist()}
        )
        if not json_to_stdout(args):
            head = ", ".join(f"{v:+.4f}" for v in vector[:8])
            print(
                f"{len(vector)} dimensions, norm {float((vector**2).sum() ** 0.5):.4f}: [{head}, …]"
            )
        return
    prompt = runner.chat_or_prompt(args.text)
    if json_to_stdout(args):
        result = runner.generate(prompt, args.max_new_tokens)
        write_json(args.json, {"model": runner.info.name, **result.to_dict()})
        return
    result = runner.generate(
        prompt, args.max_new_tokens, on_text=lambda piece: print(piece, end="", flush=True)
    )
    print(f"\n[{result.tokens} tokens, finish: {result.finish_reason}, {result.seconds:.2f} s]")
    write_json(args.json, {"model": runner.info.name, **result.to_dict()})
