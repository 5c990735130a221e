"""`make bench-nlu`: how well our NLU pipeline understands, on our held-out split and on Banking77.

1. Our data: the 80/20 held-out split of scripts/evaluate_nlu.py (imported, not copied: same seed, same
   split, same fallback arithmetic): intent accuracy, macro F1, entity F1 of each extractor, fallback rate.
2. Banking77 (../shared/data/banking77 next to the clone, or BANKING77_DIR; PolyAI, CC BY 4.0), if present: our pipeline (config.yml) trained
   on its train split in a temp folder, tested on all of its test split (the standard protocol): accuracy and
   macro F1, to compare with the ~93% of the strongest encoders in Casanueva et al. 2020. Training on all
   10,003 examples takes long on 2 cores: `--sample-per-intent N` trains on N examples per intent (the paper's
   few-shot settings use 10 and 30), BENCH_NLU_SAMPLE in make.
`--project DIR` evaluates another copy of the project (var/bench/exp-*: pipeline experiments).
Reports and confusion matrices: results/bench-nlu/ (of the project evaluated); summary bench-nlu.json there.
"""

from __future__ import annotations

import argparse
import csv
import functools
import importlib.util
import json
import os
import random
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from bench.report import machine
from tests.support.processes import REPO

BANKING77 = Path(os.environ.get("BANKING77_DIR") or REPO.parent / "shared" / "data" / "banking77")
PAPER_ACCURACY = 0.93  # Casanueva et al. 2020, strongest encoders (USE+ConveRT), full training set


@functools.lru_cache(maxsize=None)
def evaluate_nlu_module():
    """scripts/evaluate_nlu.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("evaluate_nlu", REPO / "scripts" / "evaluate_nlu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def entity_f1(folder: Path) -> Dict[str, Optional[float]]:
    out = {}
    for report in sorted(folder.glob("*_report.json")):
        name = report.name[: -len("_report.json")]
        if name in {"intent", "response_selection"}:
            continue
        data = json.loads(report.read_text())
        micro = data.get("micro avg") or data.get("weighted avg") or {}
        out[name] = round(micro["f1-score"], 4) if "f1-score" in micro else None
    return out


def ours(results: Path) -> Dict:
    ev = evaluate_nlu_module()
    ev.RESULTS = results
    ev.SPLIT = Path("var/bench/nlu-split")  # not var/heldout: `make evaluate` may run at the same time
    started = time.perf_counter()
    summary = ev.heldout()
    summary["train_and_test_s"] = round(time.perf_counter() - started, 1)
    summary["entity_f1"] = entity_f1(results / "heldout")
    return summary


def banking77_yaml(rows: List[Dict[str, str]]) -> str:
    by_intent: Dict[str, List[str]] = defaultdict(list)
    for row in rows:
        by_intent[row["category"]].append(" ".join(row["text"].split()))
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in by_intent[intent]]
    return "\n".join(lines) + "\n"


def sample(rows: List[Dict[str, str]], per_intent: Optional[int], seed: int = 42) -> List[Dict[str, str]]:
    if not per_intent:
        return rows
    by_intent: Dict[str, List[Dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_intent[row["category"]].append(row)
    rng = random.Random(seed)
    picked = []
    for intent in sorted(by_intent):
        group = by_intent[intent]
        picked += rng.sample(group, min(per_intent, len(group)))
    return picked


def intent_only_config(config: Path) -> "tuple[Dict, List[str]]":
    """Our config without the parts Banking77 has no data for: entity extractors (it has no entities; an
    entity-only DIET fails to train without any) and the FAQ selector (no retrieval intent)."""
    document = yaml.safe_load(config.read_text())
    kept, dropped = [], []
    for component in document["pipeline"]:
        name = component["name"]
        entity_only = name == "DIETClassifier" and component.get("intent_classification") is False
        if entity_only or name in {"ResponseSelector", "nlu_components.retrieval_selector.RetrievalResponseSelector",
                                   "RegexEntityExtractor", "EntitySynonymMapper", "CRFEntityExtractor"}:
            dropped.append(name)
        else:
            kept.append(component)
    document["pipeline"] = kept
    document.pop("policies", None)
    return document, dropped


def banking77(results: Path, per_intent: Optional[int], config: Path) -> Dict:
    if not (BANKING77 / "train.csv").exists():
        return {"skipped": f"{BANKING77} has no train.csv"}
    ev = evaluate_nlu_module()
    work = Path("var/bench/banking77")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    with open(BANKING77 / "train.csv", newline="") as f:
        train = sample(list(csv.DictReader(f)), per_intent)
    with open(BANKING77 / "test.csv", newline="") as f:
        test = list(csv.DictReader(f))
    (work / "train.yml").write_text(banking77_yaml(train))
    (work / "test.yml").write_text(banking77_yaml(test))
    derived, dropped = intent_only_config(config)
    (work / "config.yml").write_text(yaml.safe_dump(derived, sort_keys=False))
    config = work / "config.yml"
    started = time.perf_counter()
    ev.rasa("train", "nlu", "--nlu", str(work / "train.yml"), "--config", str(config), "--out", str(work / "models"),
            "--fixed-model-name", "banking77")
    train_s = time.perf_counter() - started
    out = results / "banking77"
    started = time.perf_counter()
    ev.rasa("test", "nlu", "--nlu", str(work / "test.yml"), "--model", str(work / "models" / "banking77.tar.gz"),
            "--out", str(out), "--successes")
    test_s = time.perf_counter() - started
    report = json.loads((out / "intent_report.json").read_text())
    rows = ev.predictions(out)
    threshold = ev.fallback_threshold()
    fallback = sum(1 for r in rows if ev.effective(r, threshold) == "nlu_fallback")
    return {
        "train_examples": len(train), "test_examples": len(test), "intents": len({r["category"] for r in train}),
        "sample_per_intent": per_intent, "components_dropped": dropped,
        "accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro avg"]["f1-score"], 4),
        "fallback_threshold": threshold, "fallback_rate": round(fallback / max(1, len(rows)), 4),
        "train_s": round(train_s, 1), "test_s": round(test_s, 1),
        "paper_accuracy_strongest_encoders": PAPER_ACCURACY,
        "confusion_matrix": str(out / "intent_confusion_matrix.png"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO, help="project folder (config.yml, domain.yml, data/)")
    parser.add_argument("--sample-per-intent", type=int,
                        default=int(os.environ.get("BENCH_NLU_SAMPLE") or 0) or None,
                        help="train Banking77 on N examples per intent (default: all)")
    parser.add_argument("--skip-banking77", action="store_true",
                        default=os.environ.get("BENCH_SKIP_BANKING77", "").lower() in {"1", "true", "yes"})
    parser.add_argument("--skip-ours", action="store_true")
    args = parser.parse_args(argv)
    os.chdir(args.project.resolve())
    results = Path("results/bench-nlu")
    results.mkdir(parents=True, exist_ok=True)
    summary_path = results / "bench-nlu.json"
    # A run that skips a part keeps that part's last figures (e.g. Banking77 trained once, ours re-run).
    summary = {"schema": "larkspur-bench-nlu/1", "project": str(args.project), "machine": machine()}
    if not args.skip_ours:
        summary["ours_heldout"] = ours(results)
    if not args.skip_banking77:
        summary["banking77"] = banking77(results, args.sample_per_intent, Path("config.yml"))
    latest = json.loads(summary_path.read_text()) if summary_path.exists() else {}  # a parallel run's part
    summary = {**latest, **summary}
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print("\nNLU benchmark")
    h = summary.get("ours_heldout")
    if h:
        print(f"  our held-out 20%: {h['examples']} messages, accuracy {h['accuracy']:.1%}, macro F1 {h['macro_f1']:.1%}, "
              f"entity F1 {h['entity_f1']}, fallback rate {h['fallback_rate']:.1%} (threshold {h['fallback_threshold']})")
    b = summary.get("banking77")
    if b and "skipped" not in b:
        print(f"  Banking77: trained on {b['train_examples']} ({b['sample_per_intent'] or 'all'} per intent) in "
              f"{b['train_s']} s; test {b['test_examples']}: accuracy {b['accuracy']:.1%}, macro F1 {b['macro_f1']:.1%}, "
              f"fallback {b['fallback_rate']:.1%} (paper, strongest encoders: ~{PAPER_ACCURACY:.0%})")
    elif b:
        print(f"  Banking77: {b['skipped']}")
    print(f"  reports and confusion matrices: {results.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
