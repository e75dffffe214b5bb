"""``workbench cloud serve`` and ``workbench cloud bench``.

:func:`add_parser` adds the ``cloud`` command to the workbench CLI's subcommands; the same
parser also runs on its own as ``python -m workbench.cloud.cli serve ...``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import Any

from workbench.bench.stats import describe_interval
from workbench.cloud.config import DEFAULT_PROMPT, CloudBenchConfig, EndpointConfig, ServiceProfile
from workbench.kit.cli import (
    add_config_flags,
    add_json_option,
    check_writable,
    config_values,
    write_json,
)
from workbench.kit.errors import InvalidInputError
from workbench.kit.fields import flag_of, help_of

# `cloud bench` flags that set a field of the endpoint, or of the load test.
_ENDPOINT_FLAGS = (
    "api",
    "api_key_env",
    "max_new_tokens",
    "prompt",
    "stream",
    "include_usage",
    "timeout_s",
)
_LOAD_FLAGS = ("burstiness_cv", "max_requests", "max_seconds", "retries", "slo_ms", "seed", "label")


def add_parser(commands: Any) -> None:
    """Add ``cloud serve`` and ``cloud bench`` to an argparse subparsers object."""
    cloud = commands.add_parser(
        "cloud", help="measure OpenAI-compatible endpoints, or serve a cloud on loopback"
    )
    verbs = cloud.add_subparsers(dest="verb", required=True)
    _add_serve(verbs)
    _add_bench(verbs)


def _add_serve(verbs: Any) -> None:
    from workbench.cloud.server import DEFAULT_CHAT_MODEL, DEFAULT_EMBEDDING_MODEL

    serve = verbs.add_parser(
        "serve",
        help="run an OpenAI-compatible server on 127.0.0.1 with a simulated network and service",
        description="Run an OpenAI-compatible server on 127.0.0.1 with a simulated network and "
        "service until Ctrl-C. It prints its base URL on stdout once ready; a server has no "
        "result, so it takes no --json.",
    )
    for role, default in (("chat", DEFAULT_CHAT_MODEL), ("embedding", DEFAULT_EMBEDDING_MODEL)):
        serve.add_argument(
            f"--{role}-model",
            default=default,
            help=f"{role} model alias or path, or 'none' (default {default})",
        )
    serve.add_argument(
        "--engine",
        default="transformers",
        help="engine that runs the chat model: transformers (default) or llama.cpp (the model's "
        "GGUF file; needs the llama-cpp extra); embeddings always run on transformers",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow a --host other than loopback"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    add_config_flags(serve, ServiceProfile)
    serve.set_defaults(handler=_serve)


def _add_bench(verbs: Any) -> None:
    bench = verbs.add_parser(
        "bench", help="load-test an OpenAI-compatible endpoint and save the run"
    )
    for name in ("base_url", "model"):
        bench.add_argument(
            flag_of(EndpointConfig, name),
            dest=name,
            required=True,
            help=help_of(EndpointConfig, name),
        )
    add_config_flags(bench, EndpointConfig, _ENDPOINT_FLAGS)
    add_config_flags(bench.add_mutually_exclusive_group(), CloudBenchConfig, ("users", "rate_rps"))
    add_config_flags(bench, CloudBenchConfig, _LOAD_FLAGS)
    add_json_option(bench, "one record per measured point")
    bench.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    bench.add_argument("--no-save", action="store_true", help="do not record a run")
    bench.set_defaults(handler=_bench)


def _model_or_none(name: str) -> str | None:
    return None if name.strip().lower() in ("", "none") else name


def _serve(args: argparse.Namespace) -> None:
    from workbench.cloud.server import check_host, check_port, serve

    check_host(args.host, args.allow_remote)
    check_port(args.port)
    profile = ServiceProfile(**config_values(args, ServiceProfile))
    chat, embedding = _model_or_none(args.chat_model), _model_or_none(args.embedding_model)
    if chat is None and embedding is None:
        raise InvalidInputError(
            "--chat-model and --embedding-model are both 'none': serve at least one model."
        )
    print(f"loading {', '.join(m for m in (chat, embedding) if m)} ...", file=sys.stderr)
    chat_model: Any = chat
    if args.engine != "transformers":
        from workbench.models.engines import load_engine_model, require_engine

        require_engine(args.engine)  # unknown, or its extra missing: fails before any loading
        if chat is None:
            raise InvalidInputError(
                f"--engine {args.engine} runs the chat model, and --chat-model is 'none': give "
                "a chat model (e.g. --chat-model smollm2-135m) or leave --engine out."
            )
        chat_model = load_engine_model(chat, args.engine)

    def ready(base_url: str) -> None:
        print(base_url, flush=True)
        served = ", ".join(f"{m!r}" for m in (chat, embedding) if m)
        print(
            f"serving {served} at {base_url} (OpenAI-compatible; Ctrl-C stops)",
            file=sys.stderr,
            flush=True,
        )

    try:
        serve(
            chat_model,
            embedding,
            profile,
            host=args.host,
            port=args.port,
            allow_remote=args.allow_remote,
            on_ready=ready,
        )
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)


def _bench(args: argparse.Namespace) -> None:
    from workbench.cloud.loadgen import run_endpoint_benchmark

    check_writable(args.json)
    values = config_values(args, EndpointConfig)
    values["prompt"] = values.get("prompt") or DEFAULT_PROMPT  # an empty --prompt: the default
    config = CloudBenchConfig(EndpointConfig(**values), **config_values(args, CloudBenchConfig))
    if config.endpoint.has_credentials:
        print(
            "The base URL's user:password@ part is sent with each request and not recorded: the "
            "run, its tables and this output show the URL without it."
        )
    result = run_endpoint_benchmark(config, runs_dir=args.runs_dir, save=not args.no_save)
    print(summary_text(result.summary_row))
    if result.run_id:
        status = " (status failed: every request failed)" if result.all_failed() else ""
        print(f"\nsaved as run {result.run_id}{status}")
    write_json(args.json, result.points.to_dict("records"))
    result.raise_if_all_failed()


def summary_text(row: dict[str, Any]) -> str:
    """The summary row as aligned ``label  value`` lines, error kinds only when non-zero."""
    lines = [
        ("requests", f"{row['requests']} ({row['ok']} ok, {row['failed']} failed)"),
        ("mode", f"{row['mode']} loop" + _load_text(row)),
        ("latency p50 / p95 / p99", _ms(row, "p50_ms", "p95_ms", "p99_ms")),
        ("p50 latency", describe_interval(row, 50)),
        ("p95 latency", describe_interval(row, 95)),
        ("time to first token", _ms(row, "ttft_ms")),
        ("time per output token", _ms(row, "tpot_ms")),
        ("output tokens/s per request", _num(row["tokens_per_s"], ".1f")),
        ("output tokens/s, all requests", _num(row["throughput_tokens_per_s"], ".1f")),
        ("goodput", f"{_num(row['goodput'] * 100, '.1f')}% within {row['slo_ms']:g} ms"),
        ("retries", f"{row['retries']} ({row['http_429_responses']} answers were 429)"),
    ]
    errors = [
        f"{key.removeprefix('errors_')} {value}"
        for key, value in row.items()
        if key.startswith("errors_") and value
    ]
    if errors:
        lines.append(("errors", ", ".join(errors)))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {text}" for label, text in lines)


def _load_text(row: dict[str, Any]) -> str:
    if row["mode"] == "open":
        return f", {row['rate_rps']:g} requests/s (burstiness cv {row['burstiness_cv']:g})"
    return f", {row['users']} users"


def _num(value: Any, spec: str) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else format(value, spec)
    )


def _ms(row: dict[str, Any], *keys: str) -> str:
    return " / ".join(_num(row[k], ".1f") for k in keys) + " ms"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m workbench.cloud.cli serve|bench ...``: the cloud commands on their own."""
    parser = argparse.ArgumentParser(prog="workbench")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["cloud", *(argv if argv is not None else sys.argv[1:])])
    from workbench.cli import run_handler

    return run_handler(args)


if __name__ == "__main__":
    sys.exit(main())
