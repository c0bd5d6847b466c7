"""Abstention: how often a query that matches nothing gets no results, and how often a
real match survives the default floor (issue #16).

    SEMSEARCH_CACHE_DIR=... python benchmarks/abstention.py DATASET_DIR --tune    # choose, on tuning sets
    SEMSEARCH_CACHE_DIR=... python benchmarks/abstention.py DATASET_DIR [--write] # report, on the others

The floor is ``score >= F`` (the calibrated probability), or the query's nearest file by
meaning when its cosine stands out from the next nearest files' by at least ``G``
(``semsearch.search.calibration.Floor``). Each query is asked once with no floor (its 30
best files: score, cosine, judged relevant or not), and every (F, G) of the grid is told
from that. The sets, each in a tuning version (to choose F and G) and a reported one:

- 100 random letter strings and 100 random dictionary words (from the model's own
  vocabulary; seed 1616 to tune, 16 reported), asked of the SciFact corpus and of
  ``sample_corpus/``;
- 100 everyday questions from other domains, asked of the SciFact corpus
  (``benchmarks/data/everyday_questions_tuning.txt`` to tune, ``everyday_questions.txt``
  reported);
- SciFact's claims asked of ``sample_corpus/`` (train to tune, test reported);
- retention: the SciFact claims whose first 10 hold a relevant document (without a floor),
  and the share of them that still show it (train to tune, test reported);
- the check: the README demo and the ten paraphrase queries of ``tests/test_semantic.py``
  on ``sample_corpus/``, whose right file must still show.

The reported run also asks each query once through the product (``Index.query`` with its
default floor), so the shipped floor's column is the real thing, not a replay.
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
from dataclasses import dataclass
from pathlib import Path

from sections import write_section  # benchmarks/ is the script folder, first on sys.path

from semsearch import Index, defaults, sync
from semsearch.embedders import resolve_model
from semsearch.evaluation import doc_id, load_dataset, prepare_index
from semsearch.search.calibration import CALIBRATIONS, Floor, standout

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.paraphrases import PARAPHRASES  # the README demo first

HERE = Path(__file__).resolve().parent
SCORES = (0.005, 0.0075, 0.01, 0.015, 0.02)
STANDOUTS = (None, 0.12, 0.13, 0.14, 0.15, 0.16, 0.18)


@dataclass
class Asked:
    """One query's 30 best files with no floor: (score, cosine, relevant), best first; the
    stand-out of its nearest; and, in a reported run, what the product showed."""

    files: list[tuple[float, float, bool]]
    gap: float
    shown: list[bool] | None = None  # per shown hit: relevant?

    def passes(self, floor: Floor) -> list[bool]:
        """Which of ``files`` the floor shows."""
        nearest = max(range(len(self.files)), key=lambda i: self.files[i][1], default=None)
        stands_out = floor.standout is not None and self.gap >= floor.standout
        return [score >= floor.score or (stands_out and i == nearest) for i, (score, _, _) in enumerate(self.files)]

    def shows_relevant(self, floor: Floor | None, first: int = 30) -> bool:
        """Whether a relevant file is among the ``first`` the floor shows (None: the product's)."""
        if floor is None:
            return any(self.shown or ())
        return any(p and f[2] for p, f in zip(self.passes(floor)[:first], self.files[:first], strict=True))


def letters(n: int, rng: random.Random) -> list[str]:
    return [" ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10)))
                     for _ in range(rng.randint(1, 3))) for _ in range(n)]


def dictionary_words(n: int, rng: random.Random, cache: Path) -> list[str]:
    """Random words of the model's vocabulary (whole words of 4+ letters), 2 to 4 a query."""
    tokenizer = next(cache.glob("onnx/*/tokenizer.json"))
    vocab = sorted(w for w in json.loads(tokenizer.read_text())["model"]["vocab"] if re.fullmatch("[a-z]{4,}", w))
    return [" ".join(rng.sample(vocab, rng.randint(2, 4))) for _ in range(n)]


def ask(index: Index, queries: Sequence[str], judged: Sequence[dict[str, int]] | None, product: bool) -> list[Asked]:
    out = []
    for i, q in enumerate(queries):
        relevant = (lambda path, i=i: judged[i].get(doc_id(path), 0) > 0) if judged else (lambda path: False)
        hits = index.query(q, top_k=30, min_score=-math.inf)
        files = [(h.score, h.dense if h.dense is not None else -1.0, relevant(h.path)) for h in hits]
        asked = Asked(files, standout([c for _, c, _ in files]) if files else 0.0)
        if product:
            asked.shown = [relevant(h.path) for h in index.query(q, top_k=10)]
        out.append(asked)
    return out


def abstains(asked: Sequence[Asked], floor: Floor | None) -> float:
    """The share of queries with no result (floor None: the product's own)."""
    none = [not a.shown if floor is None else not any(a.passes(floor)) for a in asked]
    return 100 * sum(none) / len(none)


def retains(asked: Sequence[Asked], floor: Floor | None) -> float:
    """Of the queries whose first 10 hold a relevant document, the share still showing one."""
    kept = [a.shows_relevant(floor, 10) for a in asked if any(f[2] for f in a.files[:10])]
    return 100 * sum(kept) / len(kept)


def sample_index(tmp: Path) -> Path:
    root = tmp / "sample_corpus"
    shutil.copytree(HERE.parent / "sample_corpus", root, ignore=shutil.ignore_patterns(defaults.INDEX_DIR_NAME))
    sync(root)
    return root


def collect(dataset_dir: Path, tune: bool, product: bool) -> list[tuple[str, list[Asked], bool]]:
    """Each set's name, its queries asked, and whether abstaining is right (else: retention)."""
    cache = defaults.cache_dir()
    rng = random.Random(1616 if tune else 16)
    nonsense = letters(100, rng) + dictionary_words(100, rng, cache)
    everyday = (HERE / "data" / ("everyday_questions_tuning.txt" if tune else "everyday_questions.txt")).read_text()
    everyday_qs = everyday.splitlines()
    split = "train" if tune else "test"
    dataset = load_dataset(dataset_dir, split)
    qids = list(dataset.queries)
    claims = [dataset.queries[q] for q in qids]
    root, _ = prepare_index(dataset, {"model": resolve_model(defaults.DEFAULT_MODEL).model_id})
    seed = 1616 if tune else 16
    with Index(root) as index:
        rows = [(f"200 nonsense queries (seed {seed}: 100 letter strings, 100 dictionary words) → SciFact",
                 ask(index, nonsense, None, product), True),
                (f"{len(everyday_qs)} everyday questions ({'tuning' if tune else 'reported'} set) → SciFact",
                 ask(index, everyday_qs, None, product), True),
                (f"retention: SciFact {split} claims with a relevant document in their first 10, still showing one",
                 ask(index, claims, [dataset.qrels.get(q, {}) for q in qids], product), False)]
    with tempfile.TemporaryDirectory() as tmp, Index(sample_index(Path(tmp))) as index:
        rows.insert(1, ("the same 200 nonsense queries → sample_corpus/", ask(index, nonsense, None, product), True))
        rows.insert(3, (f"{len(claims)} SciFact {split} claims → sample_corpus/",
                        ask(index, claims, None, product), True))
        check = ask(index, [q for q, _ in PARAPHRASES], [{doc_id(a): 1} for _, a in PARAPHRASES], product)
        rows.append(("check: README demo + paraphrase queries on sample_corpus/ whose right file still shows "
                     "(of 10; first = README demo)", check, False))
    return rows


def paraphrases_kept(asked: Sequence[Asked], floor: Floor | None) -> str:
    kept = [a.shows_relevant(floor) for a in asked]
    return f"{sum(kept)}{'' if kept[0] else ' (demo lost)'}"


def cell(rows_entry: tuple[str, list[Asked], bool], floor: Floor | None) -> str:
    name, asked, abstain = rows_entry
    if name.startswith("check"):
        return paraphrases_kept(asked, floor)
    return f"{abstains(asked, floor) if abstain else retains(asked, floor):.1f}%"


def choose(rows: list[tuple[str, list[Asked], bool]]) -> Floor | None:
    """The rule, fixed before the reported run: among the floors whose every tuning set
    abstains ≥ 90% and whose retention is ≥ 97%, keeping the README demo, the one that keeps
    most paraphrase answers, then the highest least abstention."""
    best, key = None, None
    for score in SCORES:
        for gap in STANDOUTS:
            floor = Floor(score, gap)
            sets = [abstains(a, floor) for name, a, ab in rows if ab]
            kept = [retains(a, floor) for name, a, ab in rows if not ab and not name.startswith("check")]
            check = [a for name, a, _ in rows if name.startswith("check")][0]
            demo = check[0].shows_relevant(floor)
            paraphrases = sum(a.shows_relevant(floor) for a in check)
            if min(sets) >= 90 and min(kept) >= 97 and demo and (key is None or (paraphrases, min(sets)) > key):
                best, key = floor, (paraphrases, min(sets))
    return best


def table(rows: list[tuple[str, list[Asked], bool]], floors: list[tuple[str, Floor | None]]) -> str:
    lines = ["| set: share with no results (retention: share kept; check: answers kept) | "
             + " | ".join(name for name, _ in floors) + " |", "|---|" + "---|" * len(floors)]
    for entry in rows:
        lines.append(f"| {entry[0]} | " + " | ".join(cell(entry, f) for _, f in floors) + " |")
    return "\n".join(lines)


def grid(rows: list[tuple[str, list[Asked], bool]], chosen: Floor | None) -> str:
    """The tuning table: one row per floor of the grid, one column per set."""
    heads = ["score ≥", "stand-out ≥"] + [name.split(" (")[0].split(":")[0] for name, _, _ in rows]
    lines = ["| " + " | ".join(heads) + " |", "|---" * len(heads) + "|"]
    for score in SCORES:
        for gap in STANDOUTS:
            floor = Floor(score, gap)
            mark = "**" if floor == chosen else ""
            cells = [f"{mark}{score}{mark}", f"{mark}{gap if gap is not None else '—'}{mark}"]
            lines.append("| " + " | ".join(cells + [cell(entry, floor) for entry in rows]) + " |")
    lines.append(f"\nColumns, in order: {'; '.join(name for name, _, _ in rows)}. Chosen (bold): {chosen}.")
    return "\n".join(lines)


def write(section: str, flags: str, about: str, text: str) -> None:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    command = f"python benchmarks/abstention.py ../shared/data/scifact {flags}"
    write_section(section, f"<!-- {section}:start -->\nMeasured {dt.date.today()} on {machine} with `{command}` "
                  f"({about}):\n\n{text}\n<!-- {section}:end -->")
    print("written to BENCHMARKS.md", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--tune", action="store_true", help="the tuning sets: print the grid and the floor chosen")
    parser.add_argument("--write", action="store_true", help="write the reported table to BENCHMARKS.md")
    args = parser.parse_args()
    model_id = resolve_model(defaults.DEFAULT_MODEL).model_id
    shipped = CALIBRATIONS[model_id].floor
    rows = collect(args.dataset, args.tune, product=not args.tune)
    if args.tune:
        chosen = choose(rows)
        text = grid(rows, chosen)
        print(text)
        if args.write:
            write("abstention-tune", "--tune --write", f"tuning sets only; {model_id}", text)
        return
    assert shipped is not None
    floors = [(f"score ≥ {s}", Floor(s)) for s in (0.005, shipped.score)]
    floors += [(f"**shipped: score ≥ {shipped.score} or stand-out ≥ {shipped.standout}** (replayed)", shipped),
               ("shipped, through `Index.query`", None)]
    text = table(rows, floors)
    print(text)
    if args.write:
        write("abstention", "--write", f"hybrid mode, {model_id}; reported sets, none used to choose the floor", text)

if __name__ == "__main__":
    main()
