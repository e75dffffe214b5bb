"""``workbench cloud serve`` and ``workbench cloud bench``.

:func:`add_parser` adds the ``cloud`` command to the workbench CLI's subcommands; the same
parser also runs on its own as ``python -m workbench.cloud.cli serve ...``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

from workbench.kit.cli import check_writable, json_ready
from workbench.kit.errors import InvalidInputError, describe


def _helps(cls: type) -> dict[str, str]:
    return {name: spec.metadata.get("help", "") for name, spec in cls.__dataclass_fields__.items()}


def add_parser(commands: Any) -> None:
    """Add ``cloud serve`` and ``cloud bench`` to an argparse subparsers object."""
    from workbench.cloud.client import EndpointConfig
    from workbench.cloud.loadgen import CloudBenchConfig
    from workbench.cloud.server import (
        DEFAULT_CHAT_MODEL,
        DEFAULT_EMBEDDING_MODEL,
        FAULT_KINDS,
        ServiceProfile,
    )

    cloud = commands.add_parser(
        "cloud", help="measure OpenAI-compatible endpoints, or serve a cloud on loopback"
    )
    verbs = cloud.add_subparsers(dest="verb", required=True)

    profile = _helps(ServiceProfile)
    serve = verbs.add_parser(
        "serve",
        help="run an OpenAI-compatible server on 127.0.0.1 with a simulated network and service",
    )
    serve.add_argument(
        "--chat-model",
        default=DEFAULT_CHAT_MODEL,
        help=f"chat model alias or path, or 'none' (default {DEFAULT_CHAT_MODEL})",
    )
    serve.add_argument(
        "--embedding-model",
        default=DEFAULT_EMBEDDING_MODEL,
        help=f"embedding model alias or path, or 'none' (default {DEFAULT_EMBEDDING_MODEL})",
    )
    serve.add_argument("--region", help=f"{profile['region']}; see data/network_profiles.toml")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--allow-remote", action="store_true", help="allow a --host other than loopback"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free)")
    serve.add_argument("--slots", type=int, default=1, help=profile["slots"])
    serve.add_argument("--queue-size", type=int, default=64, help=profile["queue_size"])
    serve.add_argument("--rate-limit", type=float, metavar="RPS", help=profile["rate_limit_rps"])
    serve.add_argument("--burst", type=int, help=profile["rate_limit_burst"])
    serve.add_argument("--fault-rate", type=float, default=0.0, help=profile["fault_rate"])
    serve.add_argument(
        "--fault-kinds",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated; {profile['fault_kinds']}",
    )
    serve.add_argument("--cold-start-ms", type=float, default=0.0, help=profile["cold_start_ms"])
    serve.add_argument(
        "--idle-timeout-s", type=float, default=300.0, help=profile["idle_timeout_s"]
    )
    serve.add_argument(
        "--setup-round-trips", type=int, default=2, help=profile["setup_round_trips"]
    )
    serve.add_argument(
        "--max-tokens-limit", type=int, default=1024, help=profile["max_tokens_limit"]
    )
    serve.add_argument("--seed", type=int, default=0, help=profile["seed"])
    serve.add_argument("--api-key-env", metavar="NAME", help=profile["api_key_env"])
    serve.set_defaults(handler=_serve)

    endpoint = _helps(EndpointConfig)
    load = _helps(CloudBenchConfig)
    bench = verbs.add_parser(
        "bench", help="load-test an OpenAI-compatible endpoint and save the run"
    )
    bench.add_argument("--base-url", required=True, help=endpoint["base_url"])
    bench.add_argument("--model", required=True, help=endpoint["model"])
    bench.add_argument(
        "--api", choices=["chat", "embeddings"], default="chat", help=endpoint["api"]
    )
    bench.add_argument("--api-key-env", metavar="NAME", help=endpoint["api_key_env"])
    who = bench.add_mutually_exclusive_group()
    who.add_argument("--users", type=int, help=f"{load['users']} (default 1)")
    who.add_argument("--rate", type=float, metavar="RPS", help=load["rate_rps"])
    bench.add_argument("--burstiness", type=float, default=1.0, help=load["burstiness_cv"])
    bench.add_argument("--requests", type=int, default=20, help=load["max_requests"])
    bench.add_argument("--max-seconds", type=float, default=60.0, help=load["max_seconds"])
    bench.add_argument("--max-new-tokens", type=int, default=32, help=endpoint["max_new_tokens"])
    bench.add_argument("--prompt", help=endpoint["prompt"])
    bench.add_argument("--no-stream", action="store_true", help="send non-streamed chat requests")
    bench.add_argument(
        "--no-include-usage",
        action="store_true",
        help="do not send stream_options (for servers that refuse it; tokens are then counted "
        "from the stream's chunks)",
    )
    bench.add_argument("--timeout", type=float, default=60.0, help=endpoint["timeout_s"])
    bench.add_argument("--retries", type=int, default=2, help=load["retries"])
    bench.add_argument("--slo-ms", type=float, default=2000.0, help=load["slo_ms"])
    bench.add_argument("--seed", type=int, default=0, help=load["seed"])
    bench.add_argument("--label", default="", help=load["label"])
    bench.add_argument("--json", metavar="FILE", help="also write the summary row as JSON")
    bench.add_argument("--runs-dir", help="where runs are saved (default ./runs)")
    bench.add_argument("--no-save", action="store_true", help="do not record a run")
    bench.set_defaults(handler=_bench)


def _model_or_none(name: str) -> str | None:
    return None if name.strip().lower() in ("", "none") else name


def _serve(args: argparse.Namespace) -> None:
    from workbench.cloud.server import ServiceProfile, check_host, serve

    check_host(args.host, args.allow_remote)
    profile = ServiceProfile(
        region=args.region,
        setup_round_trips=args.setup_round_trips,
        slots=args.slots,
        queue_size=args.queue_size,
        rate_limit_rps=args.rate_limit,
        rate_limit_burst=args.burst,
        cold_start_ms=args.cold_start_ms,
        idle_timeout_s=args.idle_timeout_s,
        fault_rate=args.fault_rate,
        fault_kinds=tuple(k.strip() for k in args.fault_kinds.split(",") if k.strip()),
        max_tokens_limit=args.max_tokens_limit,
        api_key_env=args.api_key_env,
        seed=args.seed,
    )
    chat, embedding = _model_or_none(args.chat_model), _model_or_none(args.embedding_model)
    if chat is None and embedding is None:
        raise InvalidInputError(
            "--chat-model and --embedding-model are both 'none': serve at least one model."
        )
    print(f"loading {', '.join(m for m in (chat, embedding) if m)} ...", file=sys.stderr)

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
            chat,
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
    from workbench.cloud.client import DEFAULT_PROMPT, EndpointConfig
    from workbench.cloud.loadgen import CloudBenchConfig, run_endpoint_benchmark

    if args.json:
        check_writable(args.json)
    endpoint = EndpointConfig(
        base_url=args.base_url,
        model=args.model,
        api=args.api,
        api_key_env=args.api_key_env,
        stream=not args.no_stream,
        include_usage=not args.no_include_usage,
        max_new_tokens=args.max_new_tokens,
        prompt=args.prompt or DEFAULT_PROMPT,
        timeout_s=args.timeout,
    )
    config = CloudBenchConfig(
        endpoint=endpoint,
        users=args.users if args.users is not None else 1,
        rate_rps=args.rate,
        burstiness_cv=args.burstiness,
        max_requests=args.requests,
        max_seconds=args.max_seconds,
        retries=args.retries,
        slo_ms=args.slo_ms,
        seed=args.seed,
        label=args.label,
    )
    result = run_endpoint_benchmark(config, runs_dir=args.runs_dir, save=not args.no_save)
    print(summary_text(result.summary))
    if result.run_id:
        print(f"\nsaved as run {result.run_id}")
    if args.json:
        from workbench.kit.files import atomic_write_text

        records = [json_ready(row) for row in result.points.to_dict("records")]
        atomic_write_text(args.json, json.dumps(records, indent=2) + "\n")
    result.raise_if_all_failed()


def summary_text(row: dict[str, Any]) -> str:
    """The summary row as aligned ``label  value`` lines, error kinds only when non-zero."""
    lines = [
        ("requests", f"{row['requests']} ({row['ok']} ok, {row['failed']} failed)"),
        ("mode", f"{row['mode']} loop" + _load_text(row)),
        ("latency p50 / p95 / p99", _ms(row, "p50_ms", "p95_ms", "p99_ms")),
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
    try:
        args.handler(args)
    except KeyboardInterrupt:
        print("error: Interrupted.", file=sys.stderr)
        return 2
    except Exception as exc:
        if args.debug:
            raise
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
