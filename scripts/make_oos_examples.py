"""Build the generated `out_of_scope` files from public data: data/nlu/out_of_scope_hwu64.yml (HWU64) and
data/nlu/out_of_scope_banking77.yml (Banking77).

Our own intents are written by hand; only `out_of_scope` borrows from public data, to teach the model what
a shop assistant is not for. Both sets go through the same code (`select` and `render`); they differ only in
their `OosSet` configuration: which intents of the source may be used, which texts are dropped, how many are
kept, the seed and the header. Deterministic: the same input files give the same output.

- HWU64 (bench/data/hwu64/train.csv): every intent except yes/no/stop chatter and the shopping-like ones
  (takeaway orders, email, lists), 300 texts.
- Banking77 (bench/data/banking77/train.csv): only an ALLOWLIST of banking intents a home-goods shop never
  handles (ATMs, exchange rates, top-ups, PINs, virtual and spare cards...), never the refund, payment,
  charge, delivery or account-details ones; about 200 texts.
Both drop any text with a shop word (SHOP_WORDS); Banking77 also drops "refund", "order", "deliver",
"charged", "payment", "account details" and "personal details" anywhere in a text. The sets' test files are
never read. After the draw, a text within a few edits of a message of the frozen evaluation set
(tests/nlu/independent/, the rule of tests/unit/test_independent_set.py) is left out: dropped after the draw,
not before it, so the rest of a file does not change when that set grows.

    python scripts/make_oos_examples.py                    # regenerate both files in data/nlu/
    python scripts/make_oos_examples.py --set hwu64        # one set to stdout (default input)
    python scripts/make_oos_examples.py --set banking77 --input bench/data/banking77/train.csv --write
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
INDEPENDENT = REPO / "tests" / "nlu" / "independent"  # evaluation messages: nothing generated may come close
NEAR_EDITS = 3  # as tests/unit/test_independent_set.py: this many character edits counts as the same message
NEAR_FROM_WORDS = 3  # ... for evaluation messages of at least this many words
ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")

EXCLUDED_PREFIXES = ("general_", "takeaway_", "email_", "lists_")  # yes/no/stop chatter and shopping-like lists
SHOP_WORDS = re.compile(
    r"\b(order|orders|refund|deliver\w*|ship\w*|email|invoice|pay\w*|cancel\w*|account|track\w*|return\w*|"
    r"parcel|package|buy|bought|purchase\w*|price|cost|money|charge\w*|bank|card|help|human|person|agent|bot)\b",
    re.I,
)
# Banking77: texts with these anywhere (also inside a word: "reordered", "payments") are dropped as well.
BANKING77_SHOP_PHRASES = re.compile(r"refund|order|deliver|charged|payment|account details|personal details", re.I)
# ... and every Banking77 text used names something only a bank does.
BANKING_TERMS = re.compile(
    r"\b(atms?|pin|top[\s-]?ups?|topped|topping|exchange\w*|currenc\w*|cash|withdraw\w*|transfer\w*|virtual|"
    r"disposable|contactless|beneficiar\w*|fiat|cheques?|swallow\w*|machine|stolen|expir\w*|activat\w*)\b",
    re.I,
)
# The only Banking77 intents used: banking a home-goods shop never does. Not refunds, payments, charges,
# card delivery, transfers out, identity or account details: those are close to the shop's own intents.
BANKING77_ALLOWLIST = frozenset(
    {
        "atm_support",
        "exchange_rate",
        "exchange_via_app",
        "exchange_charge",
        "fiat_currency_support",
        "automatic_top_up",
        "top_up_by_bank_transfer_charge",
        "pending_top_up",
        "top_up_limits",
        "top_up_reverted",
        "topping_up_by_card",
        "top_up_by_cash_or_cheque",
        "top_up_failed",
        "top_up_by_card_charge",
        "verify_top_up",
        "pin_blocked",
        "change_pin",
        "get_physical_card",
        "getting_virtual_card",
        "get_disposable_virtual_card",
        "disposable_card_limits",
        "order_physical_card",
        "getting_spare_card",
        "card_about_to_expire",
        "activate_my_card",
        "card_swallowed",
        "cash_withdrawal_charge",
        "declined_cash_withdrawal",
        "pending_cash_withdrawal",
        "wrong_amount_of_cash_received",
        "wrong_exchange_rate_for_cash_withdrawal",
        "cash_withdrawal_not_recognised",
        "transfer_into_account",
        "receiving_money",
        "beneficiary_not_allowed",
        "age_limit",
        "lost_or_stolen_phone",
        "card_linking",
        "virtual_card_not_working",
        "contactless_not_working",
        "card_not_working",
        "lost_or_stolen_card",
        "compromised_card",
    }
)


@dataclass(frozen=True)
class OosSet:
    """One generated file: where its texts come from, which of them may be used, how many, and its header."""

    name: str
    default_input: Path
    output: Path
    total: int
    seed: int
    use_intent: Callable[[str], bool]
    drop_text: tuple[re.Pattern, ...]
    header: tuple[str, ...]
    # When set, a text must also match this: a generic line ("what is the reason for that") could be a
    # shopper's, so only texts that name the source's own domain are used.
    require_text: re.Pattern | None = None


def hwu64_intent(intent: str) -> bool:
    return not intent.startswith(EXCLUDED_PREFIXES)


def banking77_intent(intent: str) -> bool:
    return intent in BANKING77_ALLOWLIST


SETS: dict[str, OosSet] = {
    "hwu64": OosSet(
        name="hwu64",
        default_input=REPO / "bench" / "data" / "hwu64" / "train.csv",
        output=REPO / "data" / "nlu" / "out_of_scope_hwu64.yml",
        total=300,
        seed=64,
        use_intent=hwu64_intent,
        drop_text=(SHOP_WORDS,),
        header=(
            "# Out-of-domain examples for `out_of_scope`, generated by scripts/make_oos_examples.py, do not edit.",
            '# Source: HWU64 (Liu, Eshghi, Swietojanski and Rieser, "Benchmarking Natural Language Understanding',
            '# Services for building Conversational Agents", IWSDS 2019), DialoGLUE train split,',
            "# bench/data/hwu64/train.csv (see bench/data/hwu64/SOURCE.md); CC BY 4.0.",
            "# Only non-shopping intents are used, and never as examples of the shop's own intents.",
        ),
    ),
    "banking77": OosSet(
        name="banking77",
        default_input=REPO / "bench" / "data" / "banking77" / "train.csv",
        output=REPO / "data" / "nlu" / "out_of_scope_banking77.yml",
        total=200,
        seed=77,
        use_intent=banking77_intent,
        drop_text=(SHOP_WORDS, BANKING77_SHOP_PHRASES),
        require_text=BANKING_TERMS,
        header=(
            "# Out-of-domain examples for `out_of_scope`, generated by scripts/make_oos_examples.py, do not edit.",
            '# Source: Banking77 (Casanueva, Temcinas, Gerz, Henderson and Vulic, "Efficient Intent Detection with',
            '# Dual Sentence Encoders", NLP4ConvAI 2020; PolyAI), train split, bench/data/banking77/train.csv',
            "# (see bench/data/banking77/SOURCE.md); CC BY 4.0.",
            "# Only an allowlist of banking intents a home-goods shop never handles (ATMs, exchange, top-ups, PINs,",
            "# virtual cards...), without texts that mention refunds, orders, delivery, charges, payments or",
            "# account or personal details; never as examples of the shop's own intents.",
        ),
    ),
}


def read_rows(path: Path) -> list[tuple[str, str]]:
    """(text, intent) rows of a `text,category` CSV."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [(row["text"], row["category"]) for row in csv.DictReader(handle)]


def usable(text: str, intent: str, config: OosSet) -> bool:
    return (
        config.use_intent(intent)
        and len(text.split()) >= 2
        and not any(pattern.search(text) for pattern in config.drop_text)
        and (config.require_text is None or config.require_text.search(text) is not None)
    )


def fold(text: str) -> str:
    """Lower case, punctuation dropped, spaces folded (tests/unit/test_independent_set.py's `fold`)."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def evaluation_messages(folder: Path = INDEPENDENT) -> list[str]:
    """The folded messages of the evaluation set that the near-duplicate rule checks (at least 3 words)."""
    found = set()
    for path in sorted(folder.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            for line in (block.get("examples") or "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    text = fold(ENTITY.sub(r"\1", line[2:].strip()))
                    if len(text.split()) >= NEAR_FROM_WORDS:
                        found.add(text)
    return sorted(found)


def within_edits(a: str, b: str, limit: int) -> bool:
    """Levenshtein distance of a and b at most `limit` (a band of the dynamic programme: short texts, fast)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i] + [limit + 1] * len(b)
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != b[j - 1]))
        if min(current) > limit:
            return False
        previous = current
    return previous[len(b)] <= limit


def near_evaluation(text: str, evaluation: Sequence[str]) -> bool:
    folded = fold(clean(text))
    return any(within_edits(folded, message, NEAR_EDITS) for message in evaluation)


def select(rows: Iterable[tuple[str, str]], config: OosSet, avoid: Sequence[str] = ()) -> list[str]:
    """`config.total` texts (all usable ones if fewer): an even share of every usable intent, then a random
    fill from the rest; the same rows and configuration always give the same texts. Then the texts near a
    message of `avoid` (folded evaluation messages) are left out, without a replacement."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for raw, intent in rows:
        text = " ".join(raw.split())
        if usable(text, intent, config):
            by_intent[intent].append(text)
    rng = random.Random(config.seed)
    intents = sorted(by_intent)
    if not intents:
        return []
    per_intent = max(1, config.total // len(intents))
    chosen: list[str] = []
    for intent in intents:
        texts = sorted(set(by_intent[intent]))
        chosen += rng.sample(texts, min(per_intent, len(texts)))
    rest = sorted({t for i in intents for t in by_intent[i]} - set(chosen))
    chosen += rng.sample(rest, max(0, min(len(rest), config.total - len(chosen))))
    return [text for text in chosen if not (avoid and near_evaluation(text, avoid))]


def clean(text: str) -> str:
    """No entity-annotation brackets in a YAML training example."""
    return re.sub(r"[\[\]\(\)\{\}]", "", text)


def render(chosen: Iterable[str], config: OosSet) -> str:
    lines = [*config.header, 'version: "3.1"', "nlu:", "- intent: out_of_scope", "  examples: |"]
    lines += [f"    - {clean(text)}" for text in sorted(chosen)]
    return "\n".join(lines) + "\n"


def build(config: OosSet, path: Path | None = None) -> str:
    return render(select(read_rows(path or config.default_input), config, evaluation_messages()), config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=sorted(SETS), help="one set (default: all, written to data/nlu/)")
    parser.add_argument("--input", type=Path, help="the set's train CSV (default: its file under bench/data/)")
    parser.add_argument("--write", action="store_true", help="with --set: write the file instead of printing it")
    args = parser.parse_args(argv)
    if args.input and not args.set:
        parser.error("--input needs --set")
    if args.set and not args.write:
        sys.stdout.write(build(SETS[args.set], args.input))
        return 0
    for config in [SETS[args.set]] if args.set else SETS.values():
        text = build(config, args.input)
        config.output.write_text(text, encoding="utf-8")
        count = sum(1 for line in text.splitlines() if line.startswith("    - "))
        print(f"{config.output.relative_to(REPO)}: {count} examples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
