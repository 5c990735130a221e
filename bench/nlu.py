"""`make bench-nlu`: how well our NLU pipeline understands, on our held-out split and on public benchmarks.

1. Our data ("ours"): an 80/20 held-out split of data/ (`rasa data split nlu`, seed 42), the whole pipeline
   trained on 80% and `rasa test nlu` on 20% (the CLI, as before): intent accuracy, macro F1, entity F1 of
   each extractor, fallback rate of shop messages. (scripts/evaluate_nlu.py, which this split came from, now
   cross-validates instead.)
2. Public intent benchmarks, Banking77 (PolyAI, 77 intents) and HWU64 (Heriot-Watt, 64 intents), both in
   bench/data/ (origin and licence: bench/data/*/SOURCE.md; BANKING77_DIR and HWU64_DIR point elsewhere):
   - few-shot: trained on `--shots` (default 10) examples per intent drawn from train.csv with seeds
     1..`--seeds` (default 5), tested on all of test.csv: mean and standard deviation over the seeds, and
     each seed's figures;
   - full: trained once on all of train.csv, tested on test.csv (the standard protocol); `--skip-full`
     leaves it out.
   The pipeline is whatever config.yml holds at the time of the run, less the parts these sets have no data
   for (`intent_only_config`: entity extractors, the FAQ selector). Training and testing run in this
   process through Rasa's Python API (`rasa.model_training.train_nlu`, `Agent.load`, `parse_message`),
   the same code `rasa train nlu` runs, without a Python start-up and a confusion-matrix plot per run. Accuracy
   and macro F1 are of the raw top intent (the FallbackClassifier's decision undone, as `rasa test nlu`
   does); the fallback rate beside them is how often the FallbackClassifier did fire. Each run trains with an
   empty Rasa cache, so its training time is a real one.
A table at the end compares with published figures and the targets (PASS/MISS).
`--only banking77,hwu64,ours` picks the parts; `--project DIR` evaluates another copy of the project
(var/bench/exp-*: pipeline experiments). Per-run reports: results/bench-nlu/ of the project evaluated;
summary results/bench-nlu/bench-nlu.json there (a part not run keeps its last figures, marked as such).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import hashlib
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.report import machine

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data"
SCHEMA = "larkspur-bench-nlu/2"
PARTS = ("ours", "banking77", "hwu64")
DEFAULT_SHOTS = 10
PUBLISHED_SHOTS = 10  # the few-shot figures and targets are for 10 examples per intent
DEFAULT_SEEDS = 5
FALLBACK_INTENT = "nlu_fallback"
HELDOUT_SEED = 42  # the 80/20 split of our own data

Row = tuple[str, str]  # (text, intent)


@dataclass(frozen=True)
class Published:
    figure: str  # "87.2%" or "~93.4-93.7%"
    source: str


@dataclass(frozen=True)
class PublicSet:
    """A public intent set: where it is, its test split, and what to compare with."""

    name: str
    title: str
    folder: Path
    test_file: str
    published: dict[str, tuple[Published, ...]]  # by setting: "few_shot" (10 per intent), "full"
    targets: dict[str, float]  # minimum accuracy, by setting


def _folder(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).resolve() if value else default  # resolved now: main() changes directory


PUBLIC_SETS: dict[str, PublicSet] = {
    "banking77": PublicSet(
        name="banking77",
        title="Banking77",
        folder=_folder("BANKING77_DIR", DATA / "banking77"),
        test_file="test.csv",
        published={
            "few_shot": (
                Published("87.2%", "CPFT, Zhang et al. 2021"),
                Published("85.2%", "USE+ConveRT, Casanueva et al. 2020"),
            ),
            "full": (Published("~93.4-93.7%", "USE+ConveRT 93.4, BERT-large 93.7; Casanueva et al. 2020"),),
        },
        targets={"few_shot": 0.87, "full": 0.94},
    ),
    "hwu64": PublicSet(
        name="hwu64",
        title="HWU64",
        folder=_folder("HWU64_DIR", DATA / "hwu64"),
        test_file="test.csv",
        published={
            "few_shot": (Published("~80%", "USE+ConveRT, Casanueva et al. 2020"),),
            "full": (Published("~92%", "USE+ConveRT, Casanueva et al. 2020"),),
        },
        targets={},
    ),
}


# ---------------------------------------------------------------------------------------------------- data


def normalise(text: str) -> str:
    return " ".join(text.split())


def read_rows(path: Path) -> list[Row]:
    """(text, intent) rows of a `text,category` CSV, whitespace normalised (Banking77 has multi-line texts)."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [(normalise(row["text"]), row["category"]) for row in csv.DictReader(handle)]


def few_shot(rows: Sequence[Row], shots: int, seed: int) -> list[Row]:
    """`shots` distinct texts of every intent (all of them where an intent has fewer), drawn with `seed`.
    The draw depends only on the set of rows, not on their order: each intent's texts are sorted first."""
    by_intent: dict[str, set] = defaultdict(set)
    for text, intent in rows:
        by_intent[intent].add(text)
    rng = random.Random(seed)
    picked: list[Row] = []
    for intent in sorted(by_intent):
        texts = sorted(by_intent[intent])
        picked += [(text, intent) for text in rng.sample(texts, min(shots, len(texts)))]
    return picked


def training_rows(dataset: PublicSet, shots: int | None, seed: int | None) -> list[Row]:
    """The training examples of a run: from train.csv only (never the test file)."""
    rows = read_rows(dataset.folder / "train.csv")
    return few_shot(rows, shots, seed) if shots else rows


def testing_rows(dataset: PublicSet) -> list[Row]:
    return read_rows(dataset.folder / dataset.test_file)


def nlu_yaml(rows: Sequence[Row]) -> str:
    by_intent: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        by_intent[intent].append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        lines += [f"- intent: {json.dumps(intent)}", "  examples: |"]
        lines += [f"    - {text}" for text in by_intent[intent]]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------- config


def intent_only_config(config: Path) -> tuple[dict, list[str]]:
    """Our config without the parts the public sets have no data for: entity extractors (they have no entities;
    an entity-only DIET fails to train without any) and the FAQ selector (no retrieval intent)."""
    document = yaml.safe_load(config.read_text())
    kept, dropped = [], []
    for component in document["pipeline"]:
        name = component["name"]
        entity_only = name == "DIETClassifier" and component.get("intent_classification") is False
        if entity_only or name in {
            "ResponseSelector",
            "nlu_components.retrieval_selector.RetrievalResponseSelector",
            "RegexEntityExtractor",
            "EntitySynonymMapper",
            "CRFEntityExtractor",
        }:
            dropped.append(name)
        else:
            kept.append(component)
    document["pipeline"] = kept
    document.pop("policies", None)
    return document, dropped


def fallback_settings(pipeline: list[dict]) -> dict[str, float | None]:
    for component in pipeline:
        if component["name"] == "FallbackClassifier":
            return {
                "threshold": float(component.get("threshold", 0.3)),
                "ambiguity_threshold": float(component.get("ambiguity_threshold", 0.1)),
            }
    return {"threshold": None, "ambiguity_threshold": None}


# ----------------------------------------------------------------------------------------------- arithmetic


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean of the per-intent F1 over every intent that is true or predicted (sklearn's
    `f1_score(average="macro")`, zero where an intent has no correct prediction, as in `rasa test nlu`)."""
    labels = sorted(set(truth) | set(predicted))
    scores = []
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p != label)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores) if scores else 0.0


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and sample standard deviation (n - 1; None for one value)."""
    return {
        "mean": round(statistics.fmean(values), 4) if values else None,
        "std": round(statistics.stdev(values), 4) if len(values) > 1 else None,
    }


def verdict(value: float | None, target: float | None) -> str | None:
    if target is None or value is None:
        return None
    return "PASS" if value >= target else "MISS"


# ------------------------------------------------------------------------------------------ train and test


def quiet_rasa() -> None:
    """Rasa's Python API without the CLI's logging set-up would print a debug line per parsed message."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def train_model(train: Sequence[Row], config: Path, work: Path, name: str) -> Path:
    """Rasa's `train_nlu` (what `rasa train nlu` runs) on `train`, with an empty cache of its own."""
    import rasa.model_training

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "train.yml").write_text(nlu_yaml(train), encoding="utf-8")
    before = os.environ.get("RASA_CACHE_DIRECTORY")
    os.environ["RASA_CACHE_DIRECTORY"] = str((work / "cache").resolve())
    try:
        model = rasa.model_training.train_nlu(
            config=str(config), nlu_data=str(work / "train.yml"), output=str(work / "models"), fixed_model_name=name
        )
    finally:
        if before is None:
            os.environ.pop("RASA_CACHE_DIRECTORY", None)
        else:
            os.environ["RASA_CACHE_DIRECTORY"] = before
    if not model:
        raise RuntimeError(f"rasa could not train {name} (see the messages above)")
    return Path(model)


def predict(model: Path, texts: Sequence[str]) -> list[dict]:
    """Per text: the raw top intent and confidence (FallbackClassifier undone) and whether it fell back."""
    from rasa.core.agent import Agent
    from rasa.nlu.classifiers import fallback_classifier

    agent = Agent.load(str(model))

    async def parse_all(loaded: Agent) -> list[dict]:
        return [await loaded.parse_message(text) for text in texts]

    out = []
    for parsed in asyncio.run(parse_all(agent)):
        fell_back = fallback_classifier.is_fallback_classifier_prediction(parsed)
        if fell_back:
            parsed = fallback_classifier.undo_fallback_prediction(parsed)
        intent = parsed.get("intent") or {}
        out.append(
            {"intent": intent.get("name") or "(none)", "confidence": intent.get("confidence"), "fallback": fell_back}
        )
    del agent
    gc.collect()
    return out


def run_once(
    dataset: PublicSet,
    label: str,
    train: Sequence[Row],
    test: Sequence[Row],
    config: Path,
    work: Path,
    report_dir: Path,
    threshold: float | None,
    started: float,
) -> dict:
    """Train on `train`, test on `test`; figures of the run, its reports in `report_dir`, a progress line."""
    intents = len({intent for _, intent in train})
    print(f"[{dataset.name} {label}] training on {len(train):,} examples ({intents} intents)...", flush=True)
    t0 = time.perf_counter()
    model = train_model(train, config, work, f"{dataset.name}-{label}".replace(" ", "-"))
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    predictions = predict(model, [text for text, _ in test])
    test_s = time.perf_counter() - t0
    truth = [intent for _, intent in test]
    predicted = [p["intent"] for p in predictions]
    right = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p)
    below = sum(1 for p in predictions if threshold is not None and (p["confidence"] or 0.0) < threshold)
    result = {
        "train_examples": len(train),
        "intents": intents,
        "test_examples": len(test),
        "accuracy": round(right / len(test), 4),
        "macro_f1": round(macro_f1(truth, predicted), 4),
        "fallback_rate": round(sum(p["fallback"] for p in predictions) / len(test), 4),
        "fallback_rate_below_threshold": round(below / len(test), 4),
        "train_s": round(train_s, 1),
        "test_s": round(test_s, 1),
    }
    shutil.rmtree(report_dir, ignore_errors=True)
    report_dir.mkdir(parents=True)
    errors = [
        {
            "text": text,
            "intent": intent,
            "predicted": p["intent"],
            "confidence": p["confidence"],
            "fallback": p["fallback"],
        }
        for (text, intent), p in zip(test, predictions, strict=True)
        if p["intent"] != intent
    ]
    (report_dir / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    (report_dir / "intent_errors.json").write_text(json.dumps(errors, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)  # the model and its cache: up to tens of MB per run
    print(
        f"[{dataset.name} {label}] trained in {train_s:.1f} s, tested {len(test):,} in {test_s:.1f} s: "
        f"accuracy {result['accuracy']:.1%}, macro F1 {result['macro_f1']:.1%}, "
        f"fallback {result['fallback_rate']:.1%} (elapsed {time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    return result


def public_set(
    dataset: PublicSet, results: Path, config: Path, shots: int, seeds: int, full: bool, started: float
) -> dict[str, dict]:
    """The few-shot runs (seeds 1..`seeds`) and the full run of one set; {} parts where its files are missing."""
    missing = [name for name in ("train.csv", dataset.test_file) if not (dataset.folder / name).exists()]
    if missing:
        skipped = {"skipped": f"{dataset.folder} has no {', '.join(missing)}"}
        return {"few_shot": skipped, **({"full": skipped} if full else {})}
    test = testing_rows(dataset)
    threshold = fallback_settings(yaml.safe_load(config.read_text())["pipeline"])["threshold"]
    work = Path("var/bench/nlu-public") / dataset.name
    parts: dict[str, dict] = {}
    if seeds > 0:
        runs = []
        for seed in range(1, seeds + 1):
            label = f"{shots}-shot seed {seed}"
            train = training_rows(dataset, shots, seed)
            run = run_once(
                dataset,
                label,
                train,
                test,
                config,
                work,
                results / dataset.name / f"{shots}shot-seed{seed}",
                threshold,
                started,
            )
            runs.append({"seed": seed, **run})
        parts["few_shot"] = {
            "shots": shots,
            "seeds": [r["seed"] for r in runs],
            **{
                f"{key}_{stat}": value
                for key in ("accuracy", "macro_f1", "fallback_rate")
                for stat, value in spread([r[key] for r in runs]).items()
            },
            "train_s_mean": round(statistics.fmean(r["train_s"] for r in runs), 1),
            "runs": runs,
        }
    if full:
        parts["full"] = run_once(
            dataset,
            "full",
            training_rows(dataset, None, None),
            test,
            config,
            work,
            results / dataset.name / "full",
            threshold,
            started,
        )
    return parts


# -------------------------------------------------------------------------------------------------- ours


def entity_f1(folder: Path) -> dict[str, float | None]:
    out = {}
    for report in sorted(folder.glob("*_report.json")):
        name = report.name[: -len("_report.json")]
        if name in {"intent", "response_selection"}:
            continue
        data = json.loads(report.read_text())
        micro = data.get("micro avg") or data.get("weighted avg") or {}
        out[name] = round(micro["f1-score"], 4) if "f1-score" in micro else None
    return out


def rasa_cli(*args: str) -> None:
    """The Rasa CLI of this virtualenv, echoing the command."""
    print("+ rasa " + " ".join(args), flush=True)
    subprocess.run([str(Path(sys.executable).with_name("rasa")), *args], check=True)


def rasa_test_rows(folder: Path) -> list[dict]:
    """The per-message rows `rasa test nlu --successes` writes (successes and errors)."""
    return [
        row
        for name in ("intent_successes.json", "intent_errors.json")
        if (folder / name).exists()
        for row in json.loads((folder / name).read_text())
    ]


def ours(results: Path, seed: int = HELDOUT_SEED) -> dict:
    """Our data: `rasa data split nlu` 80/20 (fixed seed), the whole pipeline of config.yml trained on the 80%
    and `rasa test nlu` on the 20%. `rasa test nlu` undoes the fallback: the fallback rate is of shop messages
    (not out_of_scope) whose top confidence is under the FallbackClassifier threshold."""
    split = Path("var/bench/nlu-split")  # not var/heldout: `make evaluate` may run at the same time
    started = time.perf_counter()
    split.mkdir(parents=True, exist_ok=True)
    rasa_cli(
        "data",
        "split",
        "nlu",
        "--nlu",
        "data",
        "--training-fraction",
        "0.8",
        "--random-seed",
        str(seed),
        "--out",
        str(split),
    )
    rasa_cli(
        "train",
        "nlu",
        "--nlu",
        str(split / "training_data.yml"),
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--out",
        str(split / "models"),
        "--fixed-model-name",
        "heldout",
    )
    out = results / "heldout"
    shutil.rmtree(out, ignore_errors=True)  # reports of components no longer in the pipeline must not linger
    rasa_cli(
        "test",
        "nlu",
        "--nlu",
        str(split / "test_data.yml"),
        "--model",
        str(split / "models" / "heldout.tar.gz"),
        "--out",
        str(out),
        "--successes",
    )
    report = json.loads((out / "intent_report.json").read_text())
    rows = rasa_test_rows(out)
    threshold = fallback_settings(yaml.safe_load(Path("config.yml").read_text())["pipeline"])["threshold"] or 0.0
    in_scope = [r for r in rows if r["intent"] != "out_of_scope"]
    fallback = sum(1 for r in in_scope if r["intent_prediction"]["confidence"] < threshold)
    return {
        "seed": seed,
        "examples": len(rows),
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro avg"]["f1-score"], 4),
        "weighted_f1": round(report["weighted avg"]["f1-score"], 4),
        "fallback_threshold": threshold,
        "fallback_rate": round(fallback / max(1, len(in_scope)), 4),
        "confusion_matrix": str(out / "intent_confusion_matrix.png"),
        "train_and_test_s": round(time.perf_counter() - started, 1),
        "entity_f1": entity_f1(out),
    }


# ------------------------------------------------------------------------------------------------- report


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def points(value: float | None) -> str:
    return "" if value is None else f" ± {value * 100:.1f}"


def table_rows(summary: dict) -> list[dict]:
    """One row per public setting in the summary: figures, published comparison points, target verdict."""
    rows = []
    for name, dataset in PUBLIC_SETS.items():
        for setting, part in (summary.get(name) or {}).items():
            if not isinstance(part, dict) or "skipped" in part:
                continue
            standard = setting == "full" or part.get("shots") == PUBLISHED_SHOTS
            target = dataset.targets.get(setting) if standard else None
            if setting == "few_shot":
                accuracy = part["accuracy_mean"]
                seeds = len(part["seeds"])
                label = f"{dataset.title} {part['shots']}-shot ({seeds} seed{'s' if seeds != 1 else ''})"
            else:
                accuracy = part["accuracy"]
                label = f"{dataset.title} full ({part['train_examples']:,} train)"
            published = dataset.published.get(setting, ()) if standard else ()
            rows.append(
                {
                    "set": name,
                    "setting": setting,
                    "label": label,
                    "accuracy": accuracy,
                    "published": [f"{p.source}: {p.figure}" for p in published],
                    "target": target,
                    "verdict": verdict(accuracy, target),
                    "measured_at": part.get("measured_at"),
                }
            )
    return rows


def print_summary(summary: dict, measured_now: set, results: Path) -> None:
    print("\nNLU benchmark")
    h = summary.get("ours_heldout")
    if h:
        stale = "" if "ours" in measured_now else f" [earlier run, {h.get('measured_at', '?')}]"
        print(
            f"  our held-out 20%: {h['examples']} messages, accuracy {h['accuracy']:.1%}, "
            f"macro F1 {h['macro_f1']:.1%}, "
            f"entity F1 {h['entity_f1']}, fallback rate {h['fallback_rate']:.1%} (threshold {h['fallback_threshold']})"
            f"{stale}"
        )
    for name, dataset in PUBLIC_SETS.items():
        for setting, part in (summary.get(name) or {}).items():
            if "skipped" in part:
                print(f"  {dataset.title} {setting}: skipped: {part['skipped']}")
    for row in summary.get("table", []):
        part = summary[row["set"]][row["setting"]]
        stale = "" if (row["set"], row["setting"]) in measured_now else f" [earlier run, {row['measured_at']}]"
        if row["setting"] == "few_shot":
            line = (
                f"  {row['label']}: accuracy {pct(part['accuracy_mean'])}{points(part['accuracy_std'])} "
                f"(macro F1 {pct(part['macro_f1_mean'])}{points(part['macro_f1_std'])}), "
                f"fallback {pct(part['fallback_rate_mean'])}"
            )
        else:
            line = (
                f"  {row['label']}: accuracy {pct(part['accuracy'])} (macro F1 {pct(part['macro_f1'])}), "
                f"fallback {pct(part['fallback_rate'])}, trained in {part['train_s']} s"
            )
        if row["published"]:
            line += "; published: " + "; ".join(row["published"])
        line += f"; target ≥ {row['target']:.0%}: {row['verdict']}" if row["target"] is not None else "; no target"
        print(line + stale)
        if row["setting"] == "few_shot":
            print(
                "      "
                + ", ".join(
                    f"seed {r['seed']}: {r['accuracy']:.1%} / F1 {r['macro_f1']:.1%} ({r['train_s']} s)"
                    for r in part["runs"]
                )
            )
    print("  accuracy and F1 of the raw top intent; fallback: how often the FallbackClassifier fired")
    print(f"  reports: {results.resolve()}; summary {results.resolve() / 'bench-nlu.json'}")


# --------------------------------------------------------------------------------------------------- main


def parse_only(value: str) -> list[str]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown or not parts:
        raise argparse.ArgumentTypeError(f"--only takes a comma-separated subset of {','.join(PARTS)}; got {value!r}")
    return parts


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO, help="project folder (config.yml, domain.yml, data/)")
    parser.add_argument(
        "--only",
        type=parse_only,
        default=list(PARTS),
        help=f"comma-separated parts to run (default: {','.join(PARTS)})",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=DEFAULT_SEEDS,
        help=f"few-shot runs per public set, seeds 1..N (default {DEFAULT_SEEDS}; 0: none)",
    )
    parser.add_argument(
        "--shots",
        type=int,
        default=DEFAULT_SHOTS,
        help=f"training examples per intent in the few-shot runs (default {DEFAULT_SHOTS})",
    )
    parser.add_argument("--skip-full", action="store_true", help="no run on the full training sets")
    args = parser.parse_args(argv)
    if args.shots < 1 or args.seeds < 0:
        parser.error("--shots must be at least 1 and --seeds at least 0")
    project = args.project.resolve()
    os.chdir(project)
    results = Path("results/bench-nlu")
    results.mkdir(parents=True, exist_ok=True)
    summary_path = results / "bench-nlu.json"
    config = Path("config.yml")
    stamp = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "config_sha256": file_sha256(config)}
    started = time.perf_counter()
    summary: dict = {"schema": SCHEMA, "project": str(project), "machine": machine()}
    measured_now: set = set()

    if "ours" in args.only:
        summary["ours_heldout"] = {**ours(results), **stamp}
        measured_now.add("ours")
    public = [name for name in PUBLIC_SETS if name in args.only]
    if public:
        sys.path[:] = [str(project)] + [p for p in sys.path if p != str(project)]  # its nlu_components first
        quiet_rasa()
        derived, dropped = intent_only_config(config)
        work = Path("var/bench/nlu-public")
        work.mkdir(parents=True, exist_ok=True)
        derived_path = work / "config.yml"
        derived_path.write_text(yaml.safe_dump(derived, sort_keys=False))
        summary["public_pipeline"] = {
            "from": "config.yml",
            **stamp,
            "components": [c["name"] for c in derived["pipeline"]],
            "components_dropped": dropped,
            "fallback": fallback_settings(derived["pipeline"]),
            "runner": "rasa.model_training.train_nlu + Agent.parse_message, in process, empty cache per run",
        }
        for name in public:
            dataset = PUBLIC_SETS[name]
            parts = public_set(dataset, results, derived_path, args.shots, args.seeds, not args.skip_full, started)
            summary[name] = {
                setting: {**part, **stamp, "dataset": str(dataset.folder)} for setting, part in parts.items()
            }
            measured_now |= {(name, setting) for setting in parts}
            measured_now.add(name)

    # A run that leaves a part out keeps that part's last figures (e.g. the full sets trained once, few-shot re-run).
    latest = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if latest.get("schema") == SCHEMA:
        for key in ("ours_heldout", "public_pipeline"):
            summary.setdefault(key, latest.get(key))
        for name in PUBLIC_SETS:
            merged = {**(latest.get(name) or {}), **(summary.get(name) or {})}
            if merged:
                summary[name] = merged
    summary = {k: v for k, v in summary.items() if v is not None}
    summary["table"] = table_rows(summary)
    summary["wall_s"] = round(time.perf_counter() - started, 1)
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print_summary(summary, measured_now, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
