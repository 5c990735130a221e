"""Guards tests/nlu/independent/, the evaluation set `make evaluate` gates on: it stays big enough to measure
every business intent and off-topic declines, and no training example comes within a few characters' edit of
one of its messages (a copied or lightly edited message would measure recall, not understanding)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extractOne

from actions.clarification import REQUESTS

REPO = Path(__file__).resolve().parents[2]
INDEPENDENT = REPO / "tests" / "nlu" / "independent"
TRAINING = REPO / "data" / "nlu"
BUSINESS = REQUESTS  # the business intents and asking for a person
# At most this many character edits (after folding case, spaces and punctuation) counts as the same message.
NEAR = 3
# Messages of one or two words ("hi", "refund please") are a closed vocabulary that any two writers share: the
# check starts at three words.
CHECKED_FROM_WORDS = 3
ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def examples(folder: Path) -> dict[str, list[str]]:
    """Intent (or faq/topic) -> its example texts, entity markup removed."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.yml")):
        for block in (yaml.safe_load(path.read_text()) or {}).get("nlu") or []:
            if "intent" not in block:
                continue
            lines = [line[2:].strip() for line in block["examples"].splitlines() if line.startswith("- ")]
            found.setdefault(block["intent"], []).extend(ENTITY.sub(r"\1", line) for line in lines)
    return found


def fold(text: str) -> str:
    """Lower case, punctuation dropped, spaces folded: what a few edits should not get around."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@pytest.fixture(scope="module")
def evaluation() -> dict[str, list[str]]:
    return examples(INDEPENDENT)


def test_every_business_intent_has_at_least_40_messages(evaluation):
    counts = {intent: len(evaluation.get(intent, [])) for intent in BUSINESS}
    assert min(counts.values()) >= 40, counts


def test_there_are_at_least_300_off_topic_messages(evaluation):
    assert len(evaluation.get("out_of_scope", [])) >= 300


def test_every_faq_topic_of_the_training_data_is_measured(evaluation):
    topics = {intent for intent in examples(TRAINING) if intent.startswith("faq/")}
    assert topics and topics <= set(evaluation), sorted(topics - set(evaluation))


def test_the_set_has_no_duplicates(evaluation):
    counted = Counter(" ".join(text.lower().split()) for texts in evaluation.values() for text in texts)
    assert [text for text, count in counted.items() if count > 1] == []


def test_no_training_example_is_within_a_few_edits_of_an_evaluation_message(evaluation):
    training = sorted({fold(text) for texts in examples(TRAINING).values() for text in texts})
    near = []
    for intent, texts in evaluation.items():
        for text in texts:
            if len(fold(text).split()) < CHECKED_FROM_WORDS:
                continue
            match = extractOne(fold(text), training, scorer=Levenshtein.distance, score_cutoff=NEAR)
            if match is not None:
                near.append((intent, text, match[0], match[1]))
    assert near == [], "training examples too close to evaluation messages (remove them from data/nlu):\n" + "\n".join(
        f"  {intent}: {text!r} ~ {train!r} ({edits} edits)" for intent, text, train, edits in near
    )


def test_the_near_duplicate_check_can_fail():
    """The check above with a planted copy: one edit away must be caught, a different message must not."""
    training = [fold("Where is my parcel, order 10042?")]
    assert (
        extractOne(fold("where is my parcel order 10043"), training, scorer=Levenshtein.distance, score_cutoff=NEAR)
        is not None
    )
    assert extractOne(fold("I want my money back"), training, scorer=Levenshtein.distance, score_cutoff=NEAR) is None
