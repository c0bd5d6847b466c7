"""Abstention: how often a query that matches nothing gets no results, and how often a
real match survives the default floor (issue #16).

    SEMSEARCH_CACHE_DIR=... python benchmarks/abstention.py DATASET_DIR [--split test] [--write]

Each query is asked once in the default (hybrid) mode with no floor; its best score, and
for a judged query the best score of a relevant document in its first 10, then tell what
any floor would do. The sets:

- 100 random letter strings and 100 random dictionary words (from the model's own
  vocabulary), asked of the SciFact corpus and of ``sample_corpus/``;
- 100 everyday questions from other domains (``benchmarks/data/everyday_questions.txt``),
  asked of the SciFact corpus;
- SciFact's claims asked of ``sample_corpus/`` (a copy, indexed in a temporary folder);
- retention: the SciFact queries whose first 10 hold a relevant document (without a
  floor), and the share of them that still show it above the floor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shutil
import string
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from sections import write_section  # benchmarks/ is the script folder, first on sys.path

from semsearch import Index, defaults, sync
from semsearch.embedders import resolve_model
from semsearch.evaluation import doc_id, load_dataset, prepare_index

HERE = Path(__file__).resolve().parent
FLOORS = (0.002, 0.005, 0.01, 0.02, 0.05)


def letters(n: int, rng: random.Random) -> list[str]:
    return [" ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10)))
                     for _ in range(rng.randint(1, 3))) for _ in range(n)]


def dictionary_words(n: int, rng: random.Random, cache: Path) -> list[str]:
    """Random words of the model's vocabulary (whole words of 4+ letters), 2 to 4 a query."""
    tokenizer = next(cache.glob("onnx/*/tokenizer.json"))
    vocab = sorted(w for w in json.loads(tokenizer.read_text())["model"]["vocab"] if re.fullmatch("[a-z]{4,}", w))
    return [" ".join(rng.sample(vocab, rng.randint(2, 4))) for _ in range(n)]


def best_scores(index: Index, queries: Sequence[str]) -> list[float]:
    """Each query's best hybrid score, no floor (-1: nothing at all)."""
    out = []
    for q in queries:
        hits = index.query(q, top_k=1, min_score=-math.inf)
        out.append(hits[0].score if hits else -1.0)
    return out


def relevant_scores(index: Index, dataset_dir: Path, split: str) -> tuple[list[float], int]:
    """For each query whose first 10 hold a relevant document: the best such score."""
    dataset = load_dataset(dataset_dir, split)
    out = []
    for qid, text in dataset.queries.items():
        judged = dataset.qrels.get(qid, {})
        hits = index.query(text, top_k=10, min_score=-math.inf)
        found = [h.score for h in hits if judged.get(doc_id(h.path), 0) > 0]
        if found:
            out.append(max(found))
    return out, len(dataset.queries)


def sample_index(tmp: Path) -> Path:
    root = tmp / "sample_corpus"
    shutil.copytree(HERE.parent / "sample_corpus", root, ignore=shutil.ignore_patterns(defaults.INDEX_DIR_NAME))
    sync(root)
    return root


def share(scores: Sequence[float], floor: float, below: bool) -> str:
    n = sum((s < floor) if below else (s >= floor) for s in scores)
    return f"{100 * n / len(scores):.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", default="test", help="the split whose retention is measured")
    parser.add_argument("--floor", type=float, default=0.005, help="the candidate default floor (bold in the table)")
    parser.add_argument("--write", action="store_true", help="write the table to BENCHMARKS.md")
    args = parser.parse_args()
    rng = random.Random(16)
    cache = defaults.cache_dir()
    model_id = resolve_model(defaults.DEFAULT_MODEL).model_id
    floor = args.floor
    nonsense = letters(100, rng) + dictionary_words(100, rng, cache)
    everyday = (HERE / "data" / "everyday_questions.txt").read_text().splitlines()
    dataset = load_dataset(args.dataset, args.split)
    scifact_root, _ = prepare_index(dataset, {"model": model_id})
    rows: list[tuple[str, list[float], bool]] = []
    with Index(scifact_root) as index:
        rows.append(("200 nonsense queries (100 letter strings, 100 dictionary words) → SciFact",
                     best_scores(index, nonsense), True))
        rows.append((f"{len(everyday)} everyday questions (cooking, travel, sport…) → SciFact",
                     best_scores(index, everyday), True))
        kept, total = relevant_scores(index, args.dataset, args.split)
        rows.append((f"retention: SciFact {args.split} queries with a relevant document in their first 10 "
                     f"({len(kept)} of {total}) that still show it", kept, False))
    with tempfile.TemporaryDirectory() as tmp, Index(sample_index(Path(tmp))) as index:
        rows.insert(1, ("the same 200 nonsense queries → sample_corpus/", best_scores(index, nonsense), True))
        claims = list(dataset.queries.values())
        rows.insert(3, (f"{len(claims)} SciFact {args.split} claims → sample_corpus/",
                        best_scores(index, claims), True))
    floors = sorted({*FLOORS, floor})
    head = " | ".join(f"**{f}** (candidate)" if f == floor else str(f) for f in floors)
    lines = [f"| set: share with no results (retention: share kept) | {head} |", "|---|" + "---|" * len(floors)]
    for name, scores, below in rows:
        lines.append(f"| {name} | " + " | ".join(share(scores, f, below) for f in floors) + " |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        command = f"python benchmarks/abstention.py ../shared/data/scifact --split {args.split} --write"
        write_section("abstention", f"<!-- abstention:start -->\nMeasured {dt.date.today()} on {machine} with "
                      f"`{command}` (hybrid mode, {model_id}; floor = estimated probability of relevance):\n\n"
                      f"{table}\n<!-- abstention:end -->")
        print("written to BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
