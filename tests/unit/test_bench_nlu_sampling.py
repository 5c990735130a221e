"""The public-benchmark data of `make bench-nlu` and the generated out_of_scope files.

- bench/nlu.py's few-shot sampler: deterministic per seed, exactly N distinct texts per intent, other seeds
  give other samples, and training never reads the test file;
- scripts/make_oos_examples.py: the Banking77 set uses only allowlisted intents and drops texts with shop
  words; both generated files are what the script generates today.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import json
import re
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from bench import nlu

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def oos_module():
    """scripts/make_oos_examples.py as a module (scripts/ is not a package; dataclasses need sys.modules)."""
    spec = importlib.util.spec_from_file_location("make_oos_examples", REPO / "scripts" / "make_oos_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def write_csv(path: Path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(rows)


def toy_rows(intents=5, per_intent=30):
    return [
        (f"{intent} example number {i}", f"intent_{intent}") for intent in range(intents) for i in range(per_intent)
    ]


# ------------------------------------------------------------------------------------------- few-shot sampler


def test_the_sample_is_the_same_for_the_same_seed_and_independent_of_row_order():
    rows = toy_rows()
    first = nlu.few_shot(rows, 10, seed=1)
    assert nlu.few_shot(rows, 10, seed=1) == first
    assert sorted(nlu.few_shot(list(reversed(rows)), 10, seed=1)) == sorted(first)


def test_exactly_n_distinct_texts_per_intent():
    rows = toy_rows() + toy_rows(intents=2, per_intent=5)  # duplicates of some texts must not count twice
    picked = nlu.few_shot(rows, 10, seed=3)
    assert Counter(intent for _, intent in picked) == {f"intent_{i}": 10 for i in range(5)}
    assert len(set(picked)) == len(picked)
    small = nlu.few_shot([("only one", "rare"), ("only one", "rare"), ("a second", "rare")], 10, seed=1)
    assert sorted(small) == [("a second", "rare"), ("only one", "rare")]  # fewer than N: all of them


def test_different_seeds_give_different_samples():
    rows = toy_rows()
    samples = {tuple(sorted(nlu.few_shot(rows, 10, seed))) for seed in range(1, 6)}
    assert len(samples) == 5


def test_training_never_reads_the_test_file(tmp_path):
    train = toy_rows(intents=3, per_intent=20)
    write_csv(tmp_path / "train.csv", train)
    write_csv(tmp_path / "test.csv", [(f"TEST ONLY {i}", "intent_0") for i in range(50)])
    dataset = replace(nlu.PUBLIC_SETS["banking77"], folder=tmp_path)
    for seed in (1, 2):
        picked = nlu.training_rows(dataset, 10, seed)
        assert len(picked) == 30 and set(picked) <= set(train)
        assert not any(text.startswith("TEST ONLY") for text, _ in picked)
    assert sorted(nlu.training_rows(dataset, None, None)) == sorted(train)  # full: all of train.csv
    (tmp_path / "test.csv").unlink()
    assert len(nlu.training_rows(dataset, 10, 1)) == 30  # it does not even open test.csv


@pytest.mark.parametrize("name, intents", [("banking77", 77), ("hwu64", 64)])
def test_ten_shot_of_the_shipped_sets(name, intents):
    dataset = nlu.PUBLIC_SETS[name]
    if not (dataset.folder / "train.csv").exists():
        pytest.skip(f"{dataset.folder} has no train.csv")
    train = set(nlu.read_rows(dataset.folder / "train.csv"))
    picked = nlu.training_rows(dataset, 10, 1)
    assert Counter(Counter(intent for _, intent in picked).values()) == {10: intents}
    assert set(picked) <= train
    assert picked != nlu.training_rows(dataset, 10, 2)


def test_macro_f1_is_sklearns():
    from sklearn.metrics import f1_score

    truth = ["a", "a", "b", "b", "c", "c", "c"]
    predicted = ["a", "b", "b", "b", "a", "c", "d"]
    assert nlu.macro_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted, average="macro"))


def test_spread_and_verdict():
    assert nlu.spread([0.8, 0.9]) == {"mean": 0.85, "std": pytest.approx(0.0707, abs=1e-4)}
    assert nlu.spread([0.8])["std"] is None
    assert nlu.verdict(0.871, 0.87) == "PASS" and nlu.verdict(0.869, 0.87) == "MISS"
    assert nlu.verdict(0.9, None) is None


# ------------------------------------------------------------------------------------------ OOS generator


def test_banking77_drops_texts_with_shop_words_even_in_allowlisted_intents():
    oos = oos_module()
    banking = oos.SETS["banking77"]
    assert "top_up_failed" in oos.BANKING77_ALLOWLIST
    assert oos.usable("why did my top up fail", "top_up_failed", banking)
    for text in (
        "can I get a refund for the top up",
        "my top up was refunded",
        "I reordered a top up",
        "where is my delivery of the card",
        "I was charged twice for the top up",
        "the top up payment failed",
        "change my account details",
        "update my personal details",
        "my card top up failed",
    ):  # the last: "card" is a SHOP_WORDS word
        assert not oos.usable(text, "top_up_failed", banking), text


def test_banking77_never_uses_an_intent_outside_the_allowlist():
    oos = oos_module()
    banking = replace(oos.SETS["banking77"], total=1000)  # asks for more than there is: everything usable
    rows = [(f"what is the exchange rate number {i}", "exchange_rate") for i in range(20)]
    rows += [(f"when will it arrive number {i}", "card_arrival") for i in range(20)]
    rows += [(f"where is my money number {i}", "request_refund") for i in range(20)]
    chosen = oos.select(rows, banking)
    assert len(chosen) == 20 and all("exchange rate" in text for text in chosen)
    assert oos.select(rows, banking) == chosen  # deterministic


def test_the_allowlist_names_real_banking77_intents():
    oos = oos_module()
    categories = REPO / "bench" / "data" / "banking77" / "categories.json"
    if not categories.exists():
        pytest.skip("no bench/data/banking77")
    assert set(json.loads(categories.read_text())) >= oos.BANKING77_ALLOWLIST


def test_texts_near_an_evaluation_message_are_left_out_after_the_draw():
    oos = oos_module()
    hwu = replace(oos.SETS["hwu64"], total=3)
    rows = [
        (text, "weather_query")
        for text in (
            "will it rain in paris",
            "how hot is it in madrid today",
            "is there snow on the alps",
            "do I need an umbrella tomorrow",
            "what is the forecast for the weekend",
        )
    ]
    drawn = oos.select(rows, hwu)
    avoid = [oos.fold(drawn[0].upper().replace(" ", "  ") + "!!")]  # case, spaces, punctuation hide no copy
    assert oos.select(rows, hwu, avoid) == drawn[1:]  # left out, not replaced: the rest of the draw stays
    assert oos.within_edits("turn off the lights", "turn of the light", 3)
    assert not oos.within_edits("turn off the lights", "play some jazz music", 3)


@pytest.mark.parametrize("name", ["banking77", "hwu64"])
def test_generated_files_are_current_and_filtered(name):
    oos = oos_module()
    config = oos.SETS[name]
    if not config.default_input.exists():
        pytest.skip(f"no {config.default_input}")
    expected = oos.build(config)
    assert config.output.read_text(encoding="utf-8") == expected, "run: python scripts/make_oos_examples.py"
    examples = [line[6:] for line in expected.splitlines() if line.startswith("    - ")]
    assert config.total - 10 <= len(examples) <= config.total and len(set(examples)) == len(examples)
    assert "generated by scripts/make_oos_examples.py, do not edit" in expected
    intents_of = {}
    for text, intent in oos.read_rows(config.default_input):
        intents_of.setdefault(oos.clean(" ".join(text.split())), set()).add(intent)
    for text in examples:
        assert any(config.use_intent(intent) for intent in intents_of[text]), text
        assert not any(pattern.search(text) for pattern in config.drop_text), text
    if name == "banking77":
        assert not any(re.search(r"refund|order|deliver|charged|payment", text, re.I) for text in examples)
