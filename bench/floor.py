"""The floor of a turn: NLU and policy prediction alone, in process, no HTTP, no tracker store, no actions.

`python -m bench.floor --model M --assistant larkspur|stock` prints JSON (ours with the served runtime's Rasa
fixes, rasa_runtime/patches.py; the stock starter without): per-message time of
`agent.parse_message` (the NLU pipeline) and of one policy-ensemble prediction
(`MessageProcessor.predict_next_with_tracker` on a tracker holding the parsed message). A turn needs at
least two predictions (the answer, then `action_listen`), so floor = parse + 2 x predict. Whatever a served
turn takes beyond it is HTTP, the tracker store and lock store, the action server and its backend calls.
Run as its own process so the load generator never imports TensorFlow.

Two NLU figures: `parse_ms`, every distinct message of the scripts with the sentence encoder's cache of recent
messages turned off (each pays for its embedding: the worst case), and `parse_served_ms`, the messages of
`--conversations` conversations drawn by the scripts' weights, in order, through an empty cache, as a served
process meets them (a repeated "thanks", or a bare order number, which the encoder reads as its placeholder,
is looked up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time

from bench import conversations as scripts  # bench/__init__.py turns Rasa's telemetry off first
from bench.stats import summarize_latencies

NLU_MEAN_MS = 3.0  # the targets for the NLU cost of one message on one core
NLU_P95_MS = 8.0


async def measure(model: str, texts: list[str], served: list[str], rounds: int) -> dict:
    from rasa.core.agent import Agent
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    started = time.perf_counter()
    agent = Agent.load(model)
    load_s = time.perf_counter() - started
    processor = agent.processor
    domain = agent.domain

    async def one(text: str, parse_times: list[float], predict_times: list[float]) -> None:
        t0 = time.perf_counter()
        parsed = await agent.parse_message(text)
        parse_times.append(time.perf_counter() - t0)
        tracker = DialogueStateTracker.from_events(
            "floor",
            [ActionExecuted("action_listen"), UserUttered(text, parsed.get("intent"), parsed.get("entities"), parsed)],
            slots=domain.slots,
        )
        t1 = time.perf_counter()
        processor.predict_next_with_tracker(tracker)
        predict_times.append(time.perf_counter() - t1)

    encoders = sentence_encoders(agent)
    cache_sizes = [encoder.cache_size for encoder in encoders]
    for encoder in encoders:
        encoder.set_cache_size(0)
    for text in texts:  # warm-up: lazy imports, TF function tracing
        await one(text, [], [])
    parse_times: list[float] = []
    predict_times: list[float] = []
    for _ in range(rounds):
        for text in texts:
            await one(text, parse_times, predict_times)
    parse = summarize_latencies(parse_times)
    predict = summarize_latencies(predict_times)
    for encoder, size in zip(encoders, cache_sizes, strict=True):
        encoder.set_cache_size(size)  # empty, then as served
    served_times: list[float] = []
    for text in served:
        await one(text, served_times, [])
    try:
        import psutil

        rss_mb = round(psutil.Process().memory_info().rss / 2**20, 1)
    except ImportError:
        rss_mb = None
    return {
        "model": model,
        "load_s": round(load_s, 2),
        "rss_mb_after": rss_mb,
        "messages": len(parse_times),
        "parse_ms": parse,
        "parse_served_ms": summarize_latencies(served_times),
        "served_messages": len(served_times),
        "predict_ms": predict,
        "floor_p50_ms": round(parse["p50_ms"] + 2 * predict["p50_ms"], 1),
        "floor_mean_ms": round(parse["mean_ms"] + 2 * predict["mean_ms"], 1),
    }


def sentence_encoders(agent) -> list:
    """The sentence encoders of the loaded model's graph (Rasa's runner or ours keeps the nodes)."""
    nodes = getattr(agent.processor.graph_runner, "_instantiated_nodes", {})
    found = [getattr(getattr(node, "_component", None), "encoder", None) for node in nodes.values()]
    return [encoder for encoder in found if hasattr(encoder, "set_cache_size")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--assistant", choices=scripts.ASSISTANTS, default="larkspur")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--conversations", type=int, default=200, help="conversations replayed for parse_served_ms")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # else every prediction prints its debug lines and is timed with them
    if args.assistant == "larkspur":
        from rasa_runtime.patches import apply_all

        apply_all()  # the Rasa fixes `make run` serves with (each switchable off by its RASA_PATCH_* variable)
    loaded = scripts.load()[args.assistant]
    texts = sorted({t.text for s in loaded for t in s.turns})
    served = [t.text for c in scripts.plan(loaded, args.conversations) for t in c.script.turns]
    result = asyncio.run(measure(args.model, texts, served, args.rounds))
    print("FLOOR_JSON " + json.dumps(result), flush=True)
    for label, key in (("as served", "parse_served_ms"), ("every message encoded", "parse_ms")):
        figures = result[key]
        verdict = "PASS" if figures["mean_ms"] <= NLU_MEAN_MS and figures["p95_ms"] <= NLU_P95_MS else "MISS"
        print(
            f"NLU per message, {label}: mean {figures['mean_ms']} ms, p95 {figures['p95_ms']} ms "
            f"(targets: mean <= {NLU_MEAN_MS} ms, p95 <= {NLU_P95_MS} ms): {verdict}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
