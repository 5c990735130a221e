"""`make evaluate`: how well the assistant understands text it was not trained on, with the gates CI holds.

1. Cross-validation, 5 folds of our own data (data/nlu, stratified by intent): macro intent F1 of every
   message predicted by a model that never saw it. Gate: at least 90%.
2. The independent set (tests/nlu/independent/), on the full model: messages written by someone who never read
   the training data, frozen and never trained on (tests/unit/test_independent_set.py keeps training examples
   away from it). What the shopper gets is scored, after the fallback: a shop message is understood when the
   assistant acts on its intent (for an FAQ, answers its topic); it is not when it acts on another or asks
   (a clarifying question is counted apart: it is no answer, but no wrong flow either). An off-topic message is
   declined when the assistant says it can't help (out_of_scope) or asks (nlu_fallback).
   Gates: shop messages understood at least 90%, off-topic declined at least 95%.
Reports (JSON, the misses by intent, confusion matrices as PNG) go to results/nlu/.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the project's own components and actions, as `rasa` finds them from its folder

RESULTS = Path("results/nlu")
FULL_MODEL = Path("models/larkspur.tar.gz")
INDEPENDENT = Path("tests/nlu/independent")
TRAINING = Path("data/nlu")
RESPONSES = Path("data/responses")
DECLINED = {"out_of_scope", "nlu_fallback"}
GATES = {"cv_macro_f1": 0.90, "shop_understood": 0.90, "off_topic_declined": 0.95}
FOLDS = 5
SEED = 42


def quiet_rasa() -> None:
    """Rasa and TensorFlow log every step of a training at INFO: keep warnings only."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.basicConfig(level=logging.WARNING)
    for name in ("rasa", "root", "onnxruntime", "tensorflow", "matplotlib"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)  # Rasa's structured log prints every parse at debug otherwise


def load_examples(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """(text, label) of every intent example; a retrieval example's label is its full key (faq/topic)."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples: list[tuple[str, str]] = []
    for path in paths:
        for message in load_data(str(path)).intent_examples:
            label = message.get("intent_response_key") or message.get("intent")
            if message.get("text") and label:
                examples.append((str(message.get("text")), str(label)))
    return examples


def acted_on(parse: dict[str, Any]) -> str:
    """What the assistant does with a parse: the intent, or `faq/<topic>` for an FAQ it answers."""
    intent = (parse.get("intent") or {}).get("name") or "nlu_fallback"
    if intent == "faq":
        selected = ((parse.get("response_selector") or {}).get("faq") or {}).get("response") or {}
        return str(selected.get("intent_response_key") or "faq")
    return str(intent)


def offered(parse: dict[str, Any]) -> list[str]:
    """The readings a clarifying question would offer for this parse (actions/clarification.py's rule)."""
    from actions.clarification import options

    domain = {"responses": _option_responses()}
    return [option.key for option in options(parse, domain)]


@functools.lru_cache(maxsize=1)
def _option_responses() -> dict[str, Any]:
    """The domain's names of the readings (`utter_option_…`), read once."""
    responses = yaml.safe_load(Path("domain.yml").read_text()).get("responses") or {}
    return {name: value for name, value in responses.items() if name.startswith("utter_option_")}


async def _parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    return [await agent.parse_message(text) for text in texts]


def parse_all(model: Path, texts: list[str]) -> list[dict[str, Any]]:
    """Every text through the model's NLU, fallback included, as the served assistant parses it."""
    return asyncio.run(_parse_all(model, texts))


def macro_f1(truth: list[str], predicted: list[str]) -> float:
    """Macro F1 over the true labels' classes (scikit-learn's, as Rasa's reports)."""
    from sklearn.metrics import f1_score

    return float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0))


def confusion_png(truth: list[str], predicted: list[str], path: Path, title: str) -> None:
    """A confusion matrix of intents as an image (FAQ topics folded into `faq`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    fold = [label.split("/")[0] for label in truth]
    guess = [label.split("/")[0] for label in predicted]
    labels = sorted(set(fold) | set(guess))
    figure, axes = plt.subplots(figsize=(12, 11))
    ConfusionMatrixDisplay.from_predictions(
        fold, guess, labels=labels, ax=axes, xticks_rotation=70, colorbar=False, cmap="Blues"
    )
    axes.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _fold_files(examples: list[tuple[str, str]], folds: int, seed: int) -> list[tuple[list, list]]:
    """Stratified folds of (text, label), deterministic for a seed."""
    from sklearn.model_selection import StratifiedKFold

    labels = [label for _, label in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return [
        ([examples[i] for i in train], [examples[i] for i in test]) for train, test in splitter.split(labels, labels)
    ]


ENTITY_EXTRACTORS = {"CRFEntityExtractor", "RegexEntityExtractor", "EntitySynonymMapper", "DIETClassifier"}


def intents_only_config(config: Path = Path("config.yml")) -> dict[str, Any]:
    """config.yml without its entity extractors and policies: what intents and FAQ topics are predicted from
    is unchanged, and each fold trains in less time."""
    document = yaml.safe_load(config.read_text())
    document["pipeline"] = [c for c in document["pipeline"] if c["name"] not in ENTITY_EXTRACTORS]
    document.pop("policies", None)
    return document


def cross_validation(folds: int = FOLDS, seed: int = SEED) -> dict[str, Any]:
    """Train on k-1 folds of data/nlu (with its entities and regexes), predict the k-th, for every fold."""
    from rasa.model_training import train_nlu
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    data = load_data(str(TRAINING)).merge(load_data(str(RESPONSES)))
    messages = [m for m in data.intent_examples if m.get("text")]
    keyed = [(m, str(m.get("intent_response_key") or m.get("intent"))) for m in messages]
    truth: list[str] = []
    guessed: list[str] = []
    tested: list[str] = []
    per_fold: list[float] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "config.yml"
        config.write_text(yaml.safe_dump(intents_only_config(), sort_keys=False))
        for number, (train, test) in enumerate(_fold_files(keyed, folds, seed), start=1):
            fold_started = time.perf_counter()
            training = TrainingData(
                [m for m, _ in train],
                entity_synonyms=data.entity_synonyms,
                regex_features=data.regex_features,
                lookup_tables=data.lookup_tables,
                responses=data.responses,
            )
            path = Path(scratch) / f"fold{number}.yml"
            RasaYAMLWriter().dump(path, training)
            model = train_nlu(str(config), str(path), scratch, fixed_model_name=f"fold{number}")
            parses = parse_all(Path(model), [m.get("text") for m, _ in test])
            fold_truth = [label for _, label in test]
            tested += [m.get("text") for m, _ in test]
            fold_guess = [acted_on(parse) for parse in parses]
            truth += fold_truth
            guessed += fold_guess
            per_fold.append(macro_f1(fold_truth, fold_guess))
            print(
                f"  fold {number}/{folds}: {len(test)} messages, macro F1 {per_fold[-1]:.1%} "
                f"({time.perf_counter() - fold_started:.0f} s)",
                flush=True,
            )
    out = RESULTS / "cross_validation"
    out.mkdir(parents=True, exist_ok=True)
    confusion_png(truth, guessed, out / "confusion.png", f"Cross-validation, {folds} folds (after the fallback)")
    misses = defaultdict(list)
    for text, label, guess in zip(tested, truth, guessed, strict=True):
        if guess != label:
            misses[label].append({"text": text, "got": guess})
    (out / "misses.yml").write_text(yaml.safe_dump(dict(misses), allow_unicode=True, sort_keys=True, width=120))
    return {
        "folds": folds,
        "seed": seed,
        "examples": len(truth),
        "macro_f1": round(macro_f1(truth, guessed), 4),
        "macro_f1_per_fold": [round(value, 4) for value in per_fold],
        "macro_f1_stdev": round(statistics.pstdev(per_fold), 4),
        "accuracy": round(sum(t == g for t, g in zip(truth, guessed, strict=True)) / max(1, len(truth)), 4),
        "seconds": round(time.perf_counter() - started, 1),
        "confusion_matrix": str(out / "confusion.png"),
    }


def independent(model: Path = FULL_MODEL) -> dict[str, Any]:
    """Score the full model on the independent set, as the shopper experiences it."""
    examples = load_examples(sorted(INDEPENDENT.glob("*.yml")))
    parses = parse_all(model, [text for text, _ in examples])
    shop = Counter()
    per_intent: dict[str, Counter] = defaultdict(Counter)
    misses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    truth, guessed = [], []
    for (text, label), parse in zip(examples, parses, strict=True):
        action = acted_on(parse)
        truth.append(label)
        guessed.append(action)
        group = "off_topic" if label == "out_of_scope" else "shop"
        confidence = round(float((parse.get("intent") or {}).get("confidence") or 0.0), 3)
        if group == "off_topic":
            declined = action in DECLINED
            shop["off_topic"] += 1
            shop["off_topic_declined"] += declined
            if not declined:
                misses["out_of_scope"].append({"text": text, "got": action, "confidence": confidence})
            continue
        shop["shop"] += 1
        per_intent[label.split("/")[0]]["total"] += 1
        if action == label:
            shop["understood"] += 1
            per_intent[label.split("/")[0]]["understood"] += 1
            continue
        kind = "asked" if action == "nlu_fallback" else "declined" if action == "out_of_scope" else "wrong"
        shop[kind] += 1
        if kind == "asked" and label in offered(parse):
            shop["clarified_right"] += 1
        misses[label].append({"text": text, "got": action, "confidence": confidence})
    out = RESULTS / "independent"
    out.mkdir(parents=True, exist_ok=True)
    confusion_png(truth, guessed, out / "confusion.png", "Independent set (after the fallback)")
    (out / "misses.yml").write_text(yaml.safe_dump(dict(misses), allow_unicode=True, sort_keys=True, width=120))
    total = max(1, shop["shop"])
    return {
        "shop_examples": shop["shop"],
        "shop_understood": round(shop["understood"] / total, 4),
        "shop_asked": round(shop["asked"] / total, 4),
        "shop_asked_with_the_right_option": round(shop["clarified_right"] / total, 4),
        "shop_wrong_intent": round(shop["wrong"] / total, 4),
        "shop_declined": round(shop["declined"] / total, 4),
        "off_topic_examples": shop["off_topic"],
        "off_topic_declined": round(shop["off_topic_declined"] / max(1, shop["off_topic"]), 4),
        "per_intent": {name: round(c["understood"] / c["total"], 4) for name, c in sorted(per_intent.items())},
        "confusion_matrix": str(out / "confusion.png"),
        "misses": str(out / "misses.yml"),
    }


def verdicts(summary: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(gate, measured, floor, passed) for every gate that was measured."""
    measured = {
        "cv_macro_f1": (summary.get("cross_validation") or {}).get("macro_f1"),
        "shop_understood": (summary.get("independent") or {}).get("shop_understood"),
        "off_topic_declined": (summary.get("independent") or {}).get("off_topic_declined"),
    }
    return [(gate, value, GATES[gate], value >= GATES[gate]) for gate, value in measured.items() if value is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cv", action="store_true", help="only the independent set (on models/)")
    parser.add_argument("--skip-independent", action="store_true", help="only the cross-validation")
    parser.add_argument("--folds", type=int, default=FOLDS)
    parser.add_argument("--model", type=Path, default=FULL_MODEL)
    args = parser.parse_args(argv)
    quiet_rasa()
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    summary: dict[str, Any] = {"gates": GATES}
    if not args.skip_independent:
        if not args.model.exists():
            print(f"{args.model} is missing: run make train")
            return 1
        print(f"Independent set ({INDEPENDENT}) on {args.model}", flush=True)
        summary["independent"] = independent(args.model)
    if not args.skip_cv:
        print(f"Cross-validation of {TRAINING}, {args.folds} folds", flush=True)
        summary["cross_validation"] = cross_validation(args.folds)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\nNLU evaluation")
    i = summary.get("independent")
    if i:
        print(
            f"  independent set: {i['shop_examples']} shop messages, understood {i['shop_understood']:.1%} "
            f"(asked {i['shop_asked']:.1%}, "
            f"of which the right reading offered {i['shop_asked_with_the_right_option']:.1%}; "
            f"wrong intent {i['shop_wrong_intent']:.1%}; declined {i['shop_declined']:.1%}); "
            f"{i['off_topic_examples']} off-topic, declined {i['off_topic_declined']:.1%}"
        )
        print("  per intent: " + ", ".join(f"{name} {value:.0%}" for name, value in i["per_intent"].items()))
    c = summary.get("cross_validation")
    if c:
        print(
            f"  cross-validation: {c['examples']} messages, {c['folds']} folds, macro F1 {c['macro_f1']:.1%} "
            f"(per fold {', '.join(f'{v:.1%}' for v in c['macro_f1_per_fold'])}; sd {c['macro_f1_stdev']:.1%}), "
            f"accuracy {c['accuracy']:.1%}, {c['seconds']:.0f} s"
        )
    print(f"  reports: {RESULTS}/ (summary.json, */misses.yml, */confusion.png)")
    failed = False
    for gate, value, floor, passed in verdicts(summary):
        print(f"  {'PASS' if passed else 'FAIL'} {gate}: {value:.1%} (gate {floor:.0%})")
        failed |= not passed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
