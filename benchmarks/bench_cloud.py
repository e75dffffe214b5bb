"""Cloud overhead and load-generator capacity (issue 4, section 7).

1. **Loopback overhead.** The same model is called three ways, in alternating rounds (the
   order rotating each round): ``direct`` (the runner called in this thread), ``in-thread``
   (the runner called in a one-thread pool, as the server runs it) and ``loopback`` (the
   project's ``EndpointClient`` against ``LoopbackCloud`` with no region delay, no faults, no
   rate limit and no cold start, over one kept-alive connection). Per round each contender's
   p50 is taken over ``--calls`` calls; the added latency is the per-round difference
   ``loopback - in-thread`` (and ``loopback - direct``), median over rounds. What the server
   does beyond the model (JSON, token counting for embeddings, the text callback for chat) is
   part of the overhead. Target: under 2 ms added at p50 for every workload.
   A diagnostic row streams from a stand-in chat model that sleeps between its pieces: sleeping
   releases the GIL, so that row shows what the HTTP path costs by itself, without the server
   and client threads queueing for the GIL behind a model whose decoding loop is Python
   (tiny-llama's is: a 1M-parameter model spends its time in Python, not in kernels).
2. **Load generator.** A trivial aiohttp app (a fixed, tiny chat completion) served by
   ``BackgroundServer``, the process held to ``--cores`` CPUs. The server runs either in a
   thread of this process (sharing the GIL with the load generator) or in a child process.
   Closed loop: requests per second with 1, 8 and 32 users. Open loop at ``--rate``/s, evenly
   spaced and Poisson: how late each request is sent against its schedule
   (``start_lag_ms``), p50 and p99, medians over rounds.

Nothing is saved as a run; every server binds 127.0.0.1 and is stopped at the end.

Run with ``python bench/bench_cloud.py`` (``--help`` for the options).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

from _report import print_machine

from workbench.cloud.client import (
    DEFAULT_PROMPT,
    EndpointClient,
    EndpointConfig,
    require_aiohttp,
)
from workbench.cloud.loadgen import CloudBenchConfig, run_endpoint_benchmark
from workbench.cloud.server import BackgroundServer, LoopbackCloud, ServiceProfile
from workbench.models.runners import Generation

TARGET_ADDED_MS = 2.0
CONTENDERS = ("direct", "in-thread", "loopback")
USERS = (1, 8, 32)
REFUSALS = (
    "faults_http_500",
    "faults_drop",
    "faults_truncate",
    "rate_limited",
    "overloaded",
    "cold_starts",
)
TRIVIAL_MODEL = "trivial"
TRIVIAL_BODY = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": TRIVIAL_MODEL,
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "ok"},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


# ---------------------------------------------------------------------------------------------
# Part 1: loopback overhead


@dataclass
class Workload:
    label: str
    call: Callable[[], Any]  # the in-process call
    client: EndpointClient  # the same request through the loopback cloud
    diagnostic: bool = False  # shown, but not held to the target


class SleepingChat:
    """A stand-in chat model: ``pieces`` pieces of text, ``gap_s`` apart, spent asleep."""

    task = "text-generation"

    def __init__(self, pieces: int, gap_s: float) -> None:
        self.info = SimpleNamespace(name="sleeping-chat")
        self.pieces, self.gap_s = pieces, gap_s

    def generate(self, messages: Any, max_new_tokens: int, on_text: Any = None, **_: Any) -> Any:
        count = min(self.pieces, max_new_tokens)
        for i in range(count):
            time.sleep(self.gap_s)  # releases the GIL, as a model running in kernels would
            if on_text is not None:
                on_text(f" w{i}")
        text = " ".join(f"w{i}" for i in range(count))
        return Generation(text, count, list(range(count)), 8, "length", count * self.gap_s)


def time_direct(call: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


def time_in_thread(pool: ThreadPoolExecutor, call: Callable[[], Any], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        pool.submit(call).result()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


async def time_loopback(client: EndpointClient, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        attempt = await client.request()
        samples.append((time.perf_counter() - start) * 1000.0)
        if not attempt.ok:
            raise RuntimeError(f"loopback request failed: {attempt.error}")
    return samples


def overhead(args: argparse.Namespace) -> None:
    import torch

    from workbench.models import load_model

    print(
        f"\n== 1. loopback cloud overhead (no delay, faults, rate limit or cold start); "
        f"{args.rounds} rounds x {args.calls} calls per contender, torch threads "
        f"{torch.get_num_threads()}"
    )
    bert = load_model("tiny-bert", progress=False)
    llama = load_model("tiny-llama", progress=False)
    minilm = None if args.no_minilm else load_model("minilm", progress=False)
    messages = [{"role": "user", "content": DEFAULT_PROMPT}]
    tokens = args.new_tokens

    sleeper = SleepingChat(tokens, args.stand_in_gap_ms / 1000.0)
    clouds = [
        LoopbackCloud(chat_model=llama, embedding_model=bert, profile=ServiceProfile()),
        LoopbackCloud(chat_model=sleeper, embedding_model=None),
    ]
    if minilm is not None:
        clouds.append(LoopbackCloud(chat_model=None, embedding_model=minilm))
    results: dict[str, dict[str, list[float]]] = {}
    with contextlib.ExitStack() as stack, asyncio.Runner() as aio:
        pool = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="in-process"))
        urls = [stack.enter_context(cloud) for cloud in clouds]
        main = clouds[0].server

        def endpoint(url: str, model: str, api: str, stream: bool = False) -> EndpointClient:
            config = EndpointConfig(
                base_url=url,
                model=model,
                api=api,
                stream=stream,
                max_new_tokens=tokens,
                prompt=DEFAULT_PROMPT,
                temperature=0.0,
            )
            return EndpointClient(config, max_connections=1)

        workloads = [
            Workload(
                "tiny-bert embeddings (1 text)",
                lambda: bert.embed([DEFAULT_PROMPT]),
                endpoint(urls[0], main.embedding_model, "embeddings"),
            ),
            Workload(
                f"tiny-llama chat ({tokens} new tokens)",
                lambda: llama.generate(messages, tokens),
                endpoint(urls[0], main.chat_model, "chat"),
            ),
            Workload(
                f"tiny-llama chat ({tokens} new tokens), streamed",
                lambda: llama.generate(messages, tokens),
                endpoint(urls[0], main.chat_model, "chat", stream=True),
            ),
            Workload(
                f"GIL-free stand-in chat ({tokens} pieces, {args.stand_in_gap_ms:g} ms apart), "
                "streamed",
                lambda: sleeper.generate(messages, tokens),
                endpoint(urls[1], clouds[1].server.chat_model, "chat", stream=True),
                diagnostic=True,
            ),
        ]
        if minilm is not None:
            workloads.append(
                Workload(
                    "minilm embeddings (1 text)",
                    lambda: minilm.embed([DEFAULT_PROMPT]),
                    endpoint(urls[2], clouds[2].server.embedding_model, "embeddings"),
                )
            )
        try:
            for w in workloads:
                aio.run(w.client.__aenter__())
            # warm-up: the first connection, the first forward passes
            for w in workloads:
                time_direct(w.call, 3)
                time_in_thread(pool, w.call, 3)
                aio.run(time_loopback(w.client, 3))
            p50 = {w.label: {c: [] for c in CONTENDERS} for w in workloads}
            for r in range(args.rounds):
                for w in workloads:
                    order = CONTENDERS[r % 3 :] + CONTENDERS[: r % 3]
                    for contender in order:
                        if contender == "direct":
                            samples = time_direct(w.call, args.calls)
                        elif contender == "in-thread":
                            samples = time_in_thread(pool, w.call, args.calls)
                        else:
                            samples = aio.run(time_loopback(w.client, args.calls))
                        p50[w.label][contender].append(statistics.median(samples))
            results = p50
            diagnostic = {w.label for w in workloads if w.diagnostic}
        finally:
            for w in workloads:
                aio.run(w.client.__aexit__(None, None, None))
        counters = [cloud.counters for cloud in clouds]
    print(
        "servers stopped; requests served: "
        + ", ".join(str(c["requests"]) for c in counters)
        + "; faults/429/503/cold starts: "
        + str(sum(c[k] for c in counters for k in REFUSALS))
    )

    width = max(len(label) for label in results)
    print(
        f"{'workload':<{width}}  {'direct':>8} {'in-thread':>9} {'loopback':>9}  "
        f"{'added vs in-thread':>18} {'added vs direct':>15}   (p50 ms, median of rounds)"
    )
    worst = -np.inf
    for label, p in results.items():
        added_thread = [lo - th for lo, th in zip(p["loopback"], p["in-thread"], strict=True)]
        added_direct = [lo - d for lo, d in zip(p["loopback"], p["direct"], strict=True)]
        if label not in diagnostic:
            worst = max(worst, statistics.median(added_thread))
        print(
            f"{label:<{width}}  {statistics.median(p['direct']):8.2f} "
            f"{statistics.median(p['in-thread']):9.2f} {statistics.median(p['loopback']):9.2f}  "
            f"{statistics.median(added_thread):18.2f} {statistics.median(added_direct):15.2f}"
        )
        print(
            f"{'':<{width}}  added vs in-thread per round: "
            + ", ".join(f"{x:.2f}" for x in added_thread)
        )
    verdict = "target met" if worst < TARGET_ADDED_MS else "target missed"
    print(
        f"largest added p50 (loopback - in-thread), stand-in left out: {worst:.2f} ms; "
        f"target < {TARGET_ADDED_MS:g} ms: {verdict}"
    )


# ---------------------------------------------------------------------------------------------
# Part 2: load generator


def trivial_app() -> Any:
    """An aiohttp app answering every chat completion with the same tiny JSON body."""
    web = require_aiohttp().web
    body = json.dumps(TRIVIAL_BODY).encode()

    async def chat(request: Any) -> Any:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def _serve_in_child(conn: Any) -> None:
    """The child process: serve the trivial app until the parent says stop."""
    with BackgroundServer(trivial_app) as url:
        conn.send(url)
        with contextlib.suppress(EOFError):
            conn.recv()


@contextlib.contextmanager
def child_server() -> Any:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve_in_child, args=(child,), name="trivial-server")
    process.start()
    try:
        if not parent.poll(60):
            raise RuntimeError("the child server did not start within 60 s")
        yield parent.recv()
    finally:
        with contextlib.suppress(OSError, BrokenPipeError):
            parent.send("stop")
        process.join(15)
        if process.is_alive():
            process.terminate()
            process.join(5)


def _endpoint(url: str) -> EndpointConfig:
    return EndpointConfig(
        base_url=url, model=TRIVIAL_MODEL, api="chat", stream=False, max_new_tokens=1
    )


def closed_rps(url: str, users: int, seconds: float, seed: int) -> tuple[float, int]:
    config = CloudBenchConfig(
        endpoint=_endpoint(url),
        users=users,
        max_requests=10_000_000,
        max_seconds=seconds,
        retries=0,
        max_connections=users,
        seed=seed,
    )
    result = run_endpoint_benchmark(config, save=False)
    s = result.summary_row
    return float(s["requests_per_s"]), int(s["failed"])


def open_lateness(
    url: str, rate: float, cv: float, seconds: float, seed: int
) -> tuple[float, float, float, int]:
    """(p50, p99 lateness in ms, achieved send rate, failed) of an open-loop run."""
    config = CloudBenchConfig(
        endpoint=_endpoint(url),
        rate_rps=rate,
        burstiness_cv=cv,
        max_requests=int(rate * seconds),
        max_seconds=seconds + 1.0,
        retries=0,
        max_connections=100,
        seed=seed,
    )
    result = run_endpoint_benchmark(config, save=False)
    req = result.requests
    lag = req["start_lag_ms"].to_numpy()
    span = (req["start_ms"].max() - req["start_ms"].min()) / 1000.0
    sent_rate = (len(req) - 1) / span if span > 0 else float("nan")
    return (
        float(np.percentile(lag, 50)),
        float(np.percentile(lag, 99)),
        sent_rate,
        int((~req["ok"]).sum()),
    )


def loadgen(args: argparse.Namespace) -> None:
    pinned = ""
    previous = None
    if hasattr(os, "sched_getaffinity"):
        previous = os.sched_getaffinity(0)
        if len(previous) > args.cores:
            os.sched_setaffinity(0, sorted(previous)[: args.cores])
            pinned = f"pinned to CPUs {sorted(os.sched_getaffinity(0))}"
        else:
            pinned = f"the process may use CPUs {sorted(previous)}"
    print(
        f"\n== 2. load generator against a trivial endpoint ({pinned}); {args.rounds} rounds, "
        f"closed loop {args.seconds:g} s per run, open loop {args.rate:g}/s for "
        f"{args.open_seconds:g} s"
    )
    try:
        with BackgroundServer(trivial_app) as thread_url, child_server() as child_url:
            places = {"server thread (shared GIL)": thread_url, "server child process": child_url}
            for url in places.values():  # warm-up: imports, first connections
                closed_rps(url, 8, 0.3, 0)
            jobs: list[tuple[str, str, Any]] = []
            for place in places:
                for users in USERS:
                    jobs.append(("closed", place, users))
                for cv, name in ((0.0, "even"), (1.0, "Poisson")):
                    jobs.append(("open", place, (cv, name)))
            closed: dict[tuple[str, int], list[float]] = {}
            opened: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
            failed = 0
            for r in range(args.rounds):
                shift = r % len(jobs)
                for kind, place, what in jobs[shift:] + jobs[:shift]:
                    url = places[place]
                    if kind == "closed":
                        rps, bad = closed_rps(url, what, args.seconds, r)
                        closed.setdefault((place, what), []).append(rps)
                    else:
                        cv, name = what
                        p50, p99, sent, bad = open_lateness(
                            url, args.rate, cv, args.open_seconds, r
                        )
                        opened.setdefault((place, name), []).append((p50, p99, sent))
                    failed += bad
    finally:
        if previous is not None:
            os.sched_setaffinity(0, previous)
    print("servers stopped; failed requests in all load runs:", failed)
    print("closed loop, requests per second (median of rounds; per round in brackets):")
    for place in places:
        for users in USERS:
            values = closed[(place, users)]
            print(
                f"  {place:<27} {users:>3} users: {statistics.median(values):8.0f} /s  "
                f"[{', '.join(f'{v:.0f}' for v in values)}]"
            )
    print(f"open loop at {args.rate:g}/s, send time minus scheduled time (median of rounds):")
    for place in places:
        for name in ("even", "Poisson"):
            rows = opened[(place, name)]
            p50 = statistics.median(x[0] for x in rows)
            p99 = statistics.median(x[1] for x in rows)
            sent = statistics.median(x[2] for x in rows)
            print(
                f"  {place:<27} {name:<8} lateness p50 {p50:6.3f} ms, p99 {p99:6.3f} ms "
                f"(worst round p99 {max(x[1] for x in rows):.3f} ms); sent {sent:.1f}/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--calls", type=int, default=40, help="calls per contender per round")
    parser.add_argument("--new-tokens", type=int, default=4, help="tiny-llama new tokens")
    parser.add_argument("--no-minilm", action="store_true", help="leave minilm out")
    parser.add_argument(
        "--stand-in-gap-ms", type=float, default=1.0, help="sleep between stand-in chat pieces"
    )
    parser.add_argument("--cores", type=int, default=2, help="CPUs for the load-generator part")
    parser.add_argument("--seconds", type=float, default=1.0, help="closed-loop seconds per run")
    parser.add_argument("--rate", type=float, default=200.0, help="open-loop arrivals per second")
    parser.add_argument("--open-seconds", type=float, default=1.5, help="open-loop seconds")
    parser.add_argument("--skip-overhead", action="store_true", help="run part 2 only")
    parser.add_argument("--skip-loadgen", action="store_true", help="run part 1 only")
    args = parser.parse_args()

    began = time.perf_counter()
    print_machine()
    if not args.skip_overhead:
        overhead(args)
    if not args.skip_loadgen:
        loadgen(args)
    print(f"\ntotal time {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
