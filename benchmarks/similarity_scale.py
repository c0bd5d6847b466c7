"""What a cosine from `semsearch similarity` means with the index's model, measured on sample_corpus/.

Two scales, each as quartiles:
- note against note: two notes of one topic folder (garden/, finance/...) against two notes of
  different folders (misc/ left out);
- question against note: each paraphrase question of tests/test_semantic.py against its answer
  note, and against every other note.

Run on a temporary indexed copy (nothing is written into the checkout):
    python benchmarks/similarity_scale.py                 # copies and indexes sample_corpus/ (minutes)
    python benchmarks/similarity_scale.py --index DIR     # an indexed copy you made already
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def quartiles(values: list[float]) -> str:
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return f"median {q2:.2f} (quartiles {q1:.2f}–{q3:.2f}, range {min(values):.2f}–{max(values):.2f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, help="an indexed copy of sample_corpus/ (default: make one)")
    args = parser.parse_args()

    from semsearch import Index, sync

    with tempfile.TemporaryDirectory() as tmp:
        root = args.index
        if root is None:
            root = Path(tmp) / "sample_corpus"
            shutil.copytree(REPO / "sample_corpus", root)
            sync(root)
        with Index(root) as idx:
            notes = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                           if p.is_file() and ".semsearch" not in p.parts and p.parts[len(root.parts)] != "misc")
            same, different = [], []
            for a, b in itertools.combinations(notes, 2):
                score = idx.similarity(root / a, root / b).score
                (same if a.split("/")[0] == b.split("/")[0] else different).append(score)
            print(f"note vs note, same folder:       {quartiles(same)}")
            print(f"note vs note, different folders: {quartiles(different)}")

            import sys

            sys.path.insert(0, str(REPO))
            from tests.test_semantic import PARAPHRASES

            answers, others = [], []
            for question, answer in PARAPHRASES:
                for note in notes:
                    score = idx.similarity(question, root / note).score
                    (answers if note == answer else others).append(score)
            print(f"question vs its answer note:     {quartiles(answers)}")
            print(f"question vs any other note:      {quartiles(others)}")
            print(f"model: {idx.settings.model} ({idx.settings.backend})")


if __name__ == "__main__":
    main()
