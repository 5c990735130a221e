"""The long-conversation case of `make bench-serve`: does a turn cost more when the conversation is long?

One sender on the embedded stack of `make run` (one Rasa through rasa_runtime, the caching SQLite tracker store,
the SQL event broker, in-memory locks) asks FAQ questions and says thanks in a loop: no backend call, so only
Rasa's own per-turn work is timed. Two such servers run side by side, one with rasa_runtime/flat_turns.py and
one with `RASA_PATCH_FLAT_TURNS=off` (Rasa's own code), and each turn goes to both, one after the other, so the
machine's drift falls on both alike; another conversation of 30 turns warms each server up first. Printed: the
median turn over turns 1-20 (about turn 10), 121-150, 271-300 and 281-300 (about turn 300), and the ratio of
the last to the first; target: turn 300 within 1.2x of turn 10 (docs/performance.md).

`python -m bench.long_conversation [--turns 300]` runs it alone: results/bench-long-conversation.json and .png.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.stacks import ACTION_SERVER_TOKEN, OUR_RASA_CLI, TOKEN_SECRET, start_rasa
from foundation import REPO
from foundation.processes import ChildProcess, free_port
from launcher.tuning import rasa_env

MODEL = REPO / "models" / "larkspur.tar.gz"
RESULTS = REPO / "results"
# FAQ topics and thanks: answered by responses and rules, no custom action, no backend.
MESSAGES = (
    "what are your shipping costs?",
    "thanks",
    "how long does delivery take?",
    "thank you!",
    "do you ship abroad?",
    "cheers",
    "what's your returns policy",
    "great, thanks",
)
SOMETHING_WENT_WRONG = "something went wrong on our side"  # utter_something_went_wrong: a custom action ran
WINDOWS = {"turns 1-20": (1, 20), "turns 121-150": (121, 150), "turns 271-300": (271, 300), "turns 281-300": (281, 300)}
TARGET_RATIO = 1.2
WARM_UP_TURNS = 30  # on another sender, before the measured conversation
VARIANTS = {"flat turns": "on", "rasa's own": "off"}


def endpoints_for(tmp: Path) -> Path:
    """The embedded stack's endpoints (as endpoints.yml), its databases in `tmp`; the action server's port is
    closed: a turn that called it would answer that something went wrong, which the run counts as a failure."""
    path = tmp / "endpoints.yml"
    path.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{free_port()}/webhook"\n'
        "  headers:\n    Authorization: Bearer ${ACTION_SERVER_TOKEN}\n"
        "tracker_store:\n  type: conversation_stores.tracker_store.CachingSQLTrackerStore\n"
        f'  dialect: "sqlite"\n  db: "{tmp / "tracker.sqlite"}"\n'
        "lock_store:\n  type: in_memory\n"
        f'event_broker:\n  type: SQL\n  dialect: "sqlite"\n  db: "{tmp / "events.sqlite"}"\n'
    )
    return path


def start_variant(tmp: Path, model: Path, index: int, flat: str, tuning: dict[str, str]) -> tuple[ChildProcess, str]:
    """One embedded Rasa with the flat-turns patch `on` or `off`."""
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        "CUSTOMER_TOKEN_SECRET": TOKEN_SECRET,
        "ACTION_SERVER_TOKEN": ACTION_SERVER_TOKEN,
        "RATE_LIMITS": "off",
        "RASA_PATCH_FLAT_TURNS": flat,
        **tuning,
    }
    service, url, _ = start_rasa(
        model, tmp, endpoints_for(tmp), env, index, credentials=REPO / "credentials.yml", rasa_cli=OUR_RASA_CLI
    )
    return service, url


def one_turn(session: requests.Session, url: str, sender: str, text: str) -> float:
    """Seconds for one REST turn; raises when the answer is not an answer."""
    started = time.perf_counter()
    response = session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
    elapsed = time.perf_counter() - started
    reply = " ".join(str(message.get("text") or "") for message in response.json()) if response.ok else ""
    if response.status_code != 200 or not reply or SOMETHING_WENT_WRONG in reply.lower():
        raise RuntimeError(f"turn {text!r}: HTTP {response.status_code}, reply {reply[:120]!r}")
    return elapsed


def medians(latencies_s: list[float]) -> dict[str, float | None]:
    """The median turn in milliseconds over each window of turns the conversation reached."""
    found: dict[str, float | None] = {}
    for name, (first, last) in WINDOWS.items():
        window = latencies_s[first - 1 : last]
        found[name] = round(statistics.median(window) * 1000, 1) if len(window) == last - first + 1 else None
    return found


def verdict(found: dict[str, float | None]) -> dict[str, object]:
    """Turn 300 against turn 10: the medians of turns 281-300 and 1-20, and whether they meet the target."""
    early, late = found["turns 1-20"], found["turns 281-300"]
    ratio = round(late / early, 2) if early and late else None
    return {"ratio_300_to_10": ratio, "target": TARGET_RATIO, "met": ratio is not None and ratio <= TARGET_RATIO}


def measure(urls: dict[str, str], turns: int, progress: bool = True) -> dict[str, dict]:
    """Play one conversation of `turns` messages on every variant, turn by turn in alternation."""
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    senders = {name: secrets.token_urlsafe(32) for name in urls}
    with requests.Session() as session:
        # A fresh server's first turns pay for lazy start-up work; another conversation takes them.
        for url in urls.values():
            warm_up = secrets.token_urlsafe(32)
            for turn in range(WARM_UP_TURNS):
                one_turn(session, url, warm_up, MESSAGES[turn % len(MESSAGES)])
        for turn in range(turns):
            text = MESSAGES[turn % len(MESSAGES)]
            order = list(urls) if turn % 2 == 0 else list(reversed(urls))  # neither always goes first
            for name in order:
                latencies[name].append(one_turn(session, urls[name], senders[name], text))
            if progress and (turn + 1) % 50 == 0:
                done = ", ".join(f"{name} {latencies[name][-1] * 1000:.0f} ms" for name in urls)
                print(f"  [long conversation] turn {turn + 1}/{turns}: {done}", flush=True)
    results = {}
    for name, found in latencies.items():
        windows = medians(found)
        results[name] = {"medians_ms": windows, **verdict(windows), "latencies_ms": [round(s * 1000, 2) for s in found]}
    return results


def run(tmp: Path, model: Path, turns: int, tuning: dict[str, str]) -> dict[str, object]:
    """Start both variants, measure, stop them; the document part bench-serve writes under `long_conversation`."""
    services: list[ChildProcess] = []
    try:
        urls = {}
        for index, (name, flat) in enumerate(VARIANTS.items()):
            service, url = start_variant(tmp / f"long-{flat}", model, 100 + index, flat, tuning)
            services.append(service)
            urls[name] = url
        print(f"long conversation: {turns} turns, one sender, both variants in alternation", flush=True)
        variants = measure(urls, turns)
    finally:
        for service in services:
            service.stop()
    return {"turns": turns, "messages": list(MESSAGES), "variants": variants}


def table(part: dict) -> str:
    """The printed summary: one row per variant."""
    names = list(WINDOWS)
    lines = [f"{'long conversation (median ms)':<30}" + "".join(f"{name:>15}" for name in names) + f"{'300 vs 10':>11}"]
    for variant, found in part["variants"].items():
        cells = "".join(f"{found['medians_ms'][name] or '-':>15}" for name in names)
        ratio = found["ratio_300_to_10"]
        mark = "" if ratio is None else (" ok" if found["met"] else " over")
        lines.append(f"{variant:<30}{cells}{(str(ratio) + 'x' + mark) if ratio else '-':>11}")
    lines.append(f"target: the median at turn 300 within {TARGET_RATIO}x of the median at turn 10")
    return "\n".join(lines)


def plot(part: dict, path: Path) -> None:
    """Turn latency against turn number (a rolling median of 15 turns), one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (variant, found), colour in zip(part["variants"].items(), ("tab:purple", "tab:grey"), strict=False):
        latencies = found["latencies_ms"]
        rolling = [statistics.median(latencies[max(0, i - 14) : i + 1]) for i in range(len(latencies))]
        ax.plot(range(1, len(latencies) + 1), latencies, ".", color=colour, alpha=0.25, markersize=3)
        ax.plot(range(1, len(rolling) + 1), rolling, "-", color=colour, label=f"{variant} (rolling median of 15)")
    ax.set_xlabel("turn of the conversation")
    ax.set_ylabel("turn latency (ms)")
    ax.set_title("One long conversation on the embedded stack: cost per turn\nprovisional: shared 2-core machine")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--out", type=Path, default=RESULTS / "bench-long-conversation.json")
    args = parser.parse_args(argv)
    if args.turns < 1:
        print("error: --turns must be at least 1", file=sys.stderr)
        return 2
    if not args.model.exists():
        print(f"error: {args.model} is missing: run `make train`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        part = run(Path(tmp), args.model, args.turns, rasa_env())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(part, indent=2) + "\n")
    plot(part, args.out.with_suffix(".png"))
    print("\n" + table(part))
    return 0


if __name__ == "__main__":
    sys.exit(main())
