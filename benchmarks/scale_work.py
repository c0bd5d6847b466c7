"""The work of ``benchmarks/scale.py``, one part per child process (so each has its own
peak RSS): ``python benchmarks/scale_work.py PART JSON-ARGS`` prints one JSON line.

Data (made once in the work folder, ``prepare``): the real model's vectors of SciFact's
12,474 passages (read from the cached eval index's catalog), extended to N by copies
``normalise(v + e)``, ``e ~ N(0, 0.026² I)`` of a source passage drawn at random: a copy
is at cosine ~0.89 to its source and two copies at ~0.79, the median cosine of a SciFact
passage to its nearest neighbour, so neighbours are near but not trivially so. Each copy's
text is 1-3 sentences of its source passage, resampled. Queries: the real model's
embeddings of SciFact's 300 test queries; ground truth: exact float32 inner product.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import resource
import sqlite3
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SCIFACT = REPO.parent / "shared" / "data" / "scifact"
SIGMA = 0.026
PER_FILE = 10  # passages per file; 100 folders d00..d99, so one folder is 1% of the files
FILTER = "d07/*"
HYBRID_RUNS = 30


def cached_catalog() -> Path:
    cache = Path(os.environ.get("SEMSEARCH_CACHE_DIR", "/work/evalcache"))
    return next(cache.glob("scifact-*/docs/.semsearch/catalog.sqlite"))


def prepare(work: str, n: int) -> dict:
    work_dir = Path(work)
    work_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(f"file:{cached_catalog()}?mode=ro&immutable=1", uri=True)
    rows = conn.execute("SELECT vector, text FROM chunks ORDER BY id").fetchall()
    base = np.frombuffer(b"".join(r[0] for r in rows), "<f4").reshape(-1, 384)
    rng = np.random.default_rng(13)
    vectors = np.lib.format.open_memmap(work_dir / "vectors.npy", "w+", np.float32, shape=(n, 384))
    sources = np.concatenate([np.arange(len(base)), rng.integers(0, len(base), max(0, n - len(base)))])[:n]
    for start in range(0, n, 100_000):
        src = sources[start : start + 100_000]
        v = base[src] + rng.normal(0, SIGMA, (len(src), 384)).astype(np.float32)
        v[src == np.arange(start, start + len(src))] = base[src[src == np.arange(start, start + len(src))]]
        vectors[start : start + len(src)] = v / np.linalg.norm(v, axis=1, keepdims=True)
    vectors.flush()
    np.save(work_dir / "sources.npy", sources)
    (work_dir / "texts.json").write_text(json.dumps([r[1] for r in rows]))
    test = {line.split("\t")[0] for line in (SCIFACT / "qrels" / "test.tsv").read_text().splitlines()[1:]}
    lines = (SCIFACT / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    texts = [q["text"] for q in map(json.loads, lines) if q["_id"] in test]
    from semsearch.embedders import load, resolve_model

    embedder = load(resolve_model("sentence-transformers/all-MiniLM-L6-v2"), "onnx")
    queries = np.stack([embedder.embed_query(t) for t in texts]).astype(np.float32)
    np.save(work_dir / "queries.npy", queries)
    (work_dir / "queries.json").write_text(json.dumps(texts))
    near = np.sort(vectors[len(base) : len(base) + 2000] @ vectors[: min(n, 200_000)].T, axis=1)[:, -2]
    return {"n": n, "copy_nn_cos_p50": float(np.median(near))}


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, ids: np.ndarray | None = None) -> np.ndarray:
    """Exact top ``k`` passage ids (catalog ids: row + 1) by float32 inner product."""
    best = np.full((len(queries), k), -np.inf, np.float32)
    best_ids = np.zeros((len(queries), k), np.int64)
    rows = np.arange(len(vectors)) if ids is None else np.asarray(ids) - 1
    for start in range(0, len(rows), 100_000):
        part = rows[start : start + 100_000]
        scores = queries @ np.asarray(vectors[part]).T
        both = np.concatenate([best, scores], axis=1)
        both_ids = np.concatenate([best_ids, np.broadcast_to(part + 1, scores.shape)], axis=1)
        pick = np.argsort(-both, axis=1, kind="stable")[:, :k]
        best, best_ids = np.take_along_axis(both, pick, 1), np.take_along_axis(both_ids, pick, 1)
    return best_ids


def filtered_ids(n: int) -> np.ndarray:
    """The passage ids under d07/: files f with f % 100 == 7, passages 10f+1 .. 10f+10."""
    files = np.arange(7, n // PER_FILE, 100)
    return (files[:, None] * PER_FILE + np.arange(1, PER_FILE + 1)).ravel()


def truth(work: str, n: int) -> dict:
    """Exact top-10 of every query among the first ``n`` passages, and under d07/ (its own
    process: reading a million vectors must not count in a query process's memory)."""
    vectors = np.load(Path(work) / "vectors.npy", mmap_mode="r")[:n]
    queries = np.load(Path(work) / "queries.npy")
    np.save(Path(work) / f"truth-{n}.npy", exact_top(vectors, queries, 10))
    np.save(Path(work) / f"truth-{n}-filtered.npy", exact_top(vectors, queries, 10, filtered_ids(n)))
    return {"n": n}


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s] or [text]


def build(work: str, n: int, root: str, kind: str) -> dict:
    """An index of the first ``n`` passages, written through the storage API."""
    from semsearch.settings import Settings
    from semsearch.storage import LocalStore, NewPassage

    vectors = np.load(Path(work) / "vectors.npy", mmap_mode="r")
    sources = np.load(Path(work) / "sources.npy")
    texts = [sentences(t) for t in json.loads((Path(work) / "texts.json").read_text())]
    folder = Path(root)
    folder.mkdir(parents=True)
    rng = random.Random(5)
    settings = Settings(model="sentence-transformers/all-MiniLM-L6-v2", backend="onnx", dimension=384,
                        chunk_tokens=200, vector_index=kind)
    started = time.perf_counter()
    with LocalStore.create(folder / ".semsearch", settings) as store:
        for start in range(0, n, 10_000):
            with store.catalog.transaction():
                for f in range(start // PER_FILE, min(n, start + 10_000) // PER_FILE):
                    rows = range(f * PER_FILE, (f + 1) * PER_FILE)
                    passages = []
                    for i in rows:
                        own = texts[sources[i]]
                        picked = own if i < len(texts) else rng.sample(own, min(len(own), rng.randint(1, 3)))
                        text = " ".join(picked)
                        passages.append(NewPassage(1, 1, text, np.asarray(vectors[i])))
                    path = folder / f"d{f % 100:02d}" / f"f{f}.txt"
                    size, mtime = 1, 1
                    if f < 50:  # on disk too, for `similar FILE`
                        path.parent.mkdir(exist_ok=True)
                        path.write_text("\n".join(p.text for p in passages))
                        size, mtime = path.stat().st_size, path.stat().st_mtime_ns
                    store.catalog.put_file(path.relative_to(folder).as_posix(), size, mtime, f"d{f}", passages)
        catalog_seconds = time.perf_counter() - started
        started = time.perf_counter()
        store.write_vectors()
        return {"catalog_s": catalog_seconds, "vectors_s": time.perf_counter() - started,
                "index": store.describe(), **sizes(store)}


def sizes(store) -> dict:
    conn = store.catalog._conn
    blobs = conn.execute("SELECT sum(length(vector)) FROM chunks").fetchone()[0] or 0
    centroids = conn.execute("SELECT sum(length(centroid)) FROM files").fetchone()[0] or 0
    files = {p.name: p.stat().st_size for p in store.index_dir.iterdir() if p.is_file()}
    vector_files = sum(v for k, v in files.items() if k.startswith("vectors."))
    return {"catalog_vectors_mb": blobs / 1e6, "catalog_centroids_mb": centroids / 1e6,
            "vector_files_mb": vector_files / 1e6, "file_index_mb": sum(v for k, v in files.items()
                                                                        if k.startswith("files.")) / 1e6,
            "folder_mb": sum(files.values()) / 1e6, "files": files}


class Float32Flat:
    """The vector index as it was before this change: every float32 vector in memory, exact."""

    def __init__(self, path: Path, n: int) -> None:
        import faiss

        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(384))
        header = np.load(path, mmap_mode="r").offset
        for start in range(0, n, 100_000):  # read, not mapped: only the index's own memory stays
            part = np.fromfile(path, np.float32, min(100_000, n - start) * 384, offset=header + start * 384 * 4)
            self.index.add_with_ids(part.reshape(-1, 384), np.arange(start + 1, start + 1 + len(part) // 384))

    def search(self, vector, k, allowed=None):
        import faiss

        params = None
        if allowed is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.fromiter(allowed, np.int64, len(allowed))))
        scores, ids = self.index.search(np.asarray(vector, np.float32).reshape(1, -1), k, params=params)
        return [(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0]


def percentiles(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"p50_ms": statistics.median(ordered) * 1000, "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1000}


def query(work: str, root: str, sides: list[str], runs: int) -> dict:
    """Warm query latencies, recall, filter, hybrid and similar, in this process, for
    ``ours`` (the index as built), ``baseline`` (exact float32 flat), or both, taking
    turns query by query (so a busy moment of the machine slows both alike)."""
    import faiss

    from semsearch import Index
    from semsearch.search.pipeline import QueryOptions, run_query

    faiss.omp_set_num_threads(1)  # as the CLI does
    queries = np.load(Path(work) / "queries.npy")[:runs]
    texts = json.loads((Path(work) / "queries.json").read_text())[:runs]
    out: dict = {side: {} for side in sides}
    with Index(root) as index:
        index.load_model()
        catalog = index.store.catalog
        n = catalog.count_passages()
        truth, truth_filtered = (np.load(Path(work) / f"truth-{n}{part}.npy")[:runs] for part in ("", "-filtered"))
        vectors = {}
        for side in sides:
            started = time.perf_counter()
            vectors[side] = Float32Flat(Path(work) / "vectors.npy", n) if side == "baseline" else index.store.vectors()
            out[side]["load_s"] = time.perf_counter() - started
        enc = []
        for text in texts:
            t = time.perf_counter()
            index.embedder().embed_query(text)
            enc.append(time.perf_counter() - t)
        for side in sides:
            out[side]["encode"] = percentiles(enc)
        for label, options in (("dense", QueryOptions(mode="dense")), ("hybrid", QueryOptions(mode="hybrid")),
                               ("filtered", QueryOptions(mode="dense", path_glob=(FILTER,)))):
            lat: dict = {side: [] for side in sides}
            short = dict.fromkeys(sides, 0)
            # FTS5 scores every passage holding any query word: at a million, seconds a query.
            pairs = list(zip(texts, queries, strict=True))[: HYBRID_RUNS if label == "hybrid" else None]
            for i, (text, vector) in enumerate(pairs):
                for side in sides:
                    get = functools.partial(vectors.__getitem__, side)
                    if i == 0:
                        run_query(text, options, catalog, get, vector)  # warm
                    t = time.perf_counter()
                    hits = run_query(text, options, catalog, get, vector)
                    lat[side].append(time.perf_counter() - t)
                    short[side] += len(hits) < options.top_k
            for side in sides:
                out[side][label] = {**percentiles(lat[side]), "short": short[side]}
        allowed = catalog.ids_matching([FILTER])
        assert allowed == set(filtered_ids(n).tolist())
        for side in sides:
            found = [[i for i, _ in vectors[side].search(q, 10)] for q in queries]
            out[side]["recall_at_10"] = float(np.mean([len(set(f) & set(t)) / 10
                                                       for f, t in zip(found, truth, strict=True)]))
            got = [[i for i, _ in vectors[side].search(q, 10, allowed)] for q in queries]
            out[side]["filtered"].update(
                recall_at_10=float(np.mean([len(set(g) & set(e)) / 10
                                            for g, e in zip(got, truth_filtered, strict=True)])),
                exactly_k=all(len(g) == 10 for g in got), allowed=len(allowed))
        lat = {side: [] for side in sides}
        paths = [index.root / f"d{f % 100:02d}" / f"f{f}.txt" for f in range(50)]
        for path in paths * max(1, runs // 50):
            for side in sides:
                t = time.perf_counter()
                similar_old(index, path) if side == "baseline" else index.similar(path)
                lat[side].append(time.perf_counter() - t)
        for side in sides:
            out[side]["similar"] = percentiles(lat[side])
            out[side]["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def similar_old(index, path: Path) -> list:
    """``similar`` as it was: every file's centroid read and compared."""
    from semsearch.search.similar import _best_passage

    catalog = index.store.catalog
    rows = catalog._rows("SELECT path, centroid FROM files WHERE centroid IS NOT NULL ORDER BY path")
    matrix = catalog._decode(r[1] for r in rows)
    rel = path.relative_to(index.root).as_posix()
    vector = catalog.centroid(rel)
    scores = matrix @ vector
    order = [i for i in np.argsort(-scores, kind="stable")[:11] if rows[i][0] != rel][:10]
    return [_best_passage(catalog, r + 1, float(scores[i]), rows[i][0], vector) for r, i in enumerate(order)]


def update(work: str, root: str, add: int) -> dict:
    """Add ``add`` passages (in files of 10) and remove them again: the vector update's time,
    next to rewriting every vector as the index did before this change."""
    import faiss

    from semsearch.storage import LocalStore, NewPassage

    rng = np.random.default_rng(99)
    base = np.load(Path(work) / "vectors.npy", mmap_mode="r")[:12_474]
    out: dict = {}
    with LocalStore.open(Path(root) / ".semsearch") as store:
        paths = [f"added/{i}.txt" for i in range(add // PER_FILE)]
        started = time.perf_counter()
        with store.catalog.transaction():
            for path in paths:
                v = base[rng.integers(0, len(base), PER_FILE)] + rng.normal(0, SIGMA, (PER_FILE, 384))
                v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
                store.catalog.put_file(path, 1, 1, path, [NewPassage(1, 1, "added passage text", x) for x in v])
        out["catalog_add_s"] = time.perf_counter() - started
        started = time.perf_counter()
        store.write_vectors()
        out["vectors_add_s"] = time.perf_counter() - started
        with store.catalog.transaction():
            for path in paths:
                store.catalog.delete_file(path)
        started = time.perf_counter()
        store.write_vectors()
        out["vectors_remove_s"] = time.perf_counter() - started
        if store.catalog.count_passages() >= 500_000:  # and once the delta is full: the merge it then costs
            from semsearch.storage.segmented import MERGE_MAX

            more = [f"merged/{i}.txt" for i in range(MERGE_MAX // PER_FILE + 1)]
            with store.catalog.transaction():
                for path in more:
                    v = base[rng.integers(0, len(base), PER_FILE)] + rng.normal(0, SIGMA, (PER_FILE, 384))
                    v = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
                    store.catalog.put_file(path, 1, 1, path, [NewPassage(1, 1, "added passage text", x) for x in v])
            started = time.perf_counter()
            store.write_vectors()
            out["merge_s"], out["merge_added"] = time.perf_counter() - started, len(more) * PER_FILE
            with store.catalog.transaction():
                for path in more:
                    store.catalog.delete_file(path)
            store.write_vectors()
        started = time.perf_counter()  # before: read every vector, rebuild a flat index, write it whole
        flat = faiss.IndexIDMap2(faiss.IndexFlatIP(384))
        for ids, vectors in store.catalog.iter_vectors("passages"):
            flat.add_with_ids(vectors, ids)
        tmp = Path(root) / "old-style.faiss"
        faiss.write_index(flat, str(tmp))
        os.fsync(os.open(tmp, os.O_RDONLY))
        out["old_rewrite_s"] = time.perf_counter() - started
        tmp.unlink()
    return out


def scifact(work: str, kinds: list[str]) -> dict:
    """SciFact's cached eval index (schema 2), copied and upgraded in place (int8 vectors,
    no re-embedding), then evaluated with each vector index kind."""
    import shutil

    from semsearch import sync
    from semsearch.evaluation.beir import load_dataset
    from semsearch.evaluation.run import evaluate

    docs = Path(work) / "scifact" / "docs"
    shutil.rmtree(docs.parent, ignore_errors=True)
    shutil.copytree(cached_catalog().parent.parent, docs)  # keeps mtimes: nothing looks changed
    def folder() -> int:
        return sum(p.stat().st_size for p in (docs / ".semsearch").iterdir() if p.name != "lock")

    out: dict = {"before_mb": folder() / 1e6}
    started = time.perf_counter()
    report = sync(docs)
    out["upgrade_s"], out["embedded"] = time.perf_counter() - started, report.passages_embedded
    out["after_mb"] = folder() / 1e6
    out["files"] = {p.name: p.stat().st_size for p in (docs / ".semsearch").iterdir()}
    dataset = load_dataset(SCIFACT, "test")
    for kind in kinds:
        started = time.perf_counter()
        sync(docs, vector_index=kind)
        switched = time.perf_counter() - started
        results = evaluate(dataset, docs)
        out[kind] = {"switch_s": switched, **{r.mode: r.scores.ndcg_at_10 for r in results}}
    return out


if __name__ == "__main__":
    part, args = sys.argv[1], json.loads(sys.argv[2])
    result = {"prepare": prepare, "truth": truth, "build": build, "query": query, "update": update,
              "scifact": scifact}[part](**args)
    print(json.dumps(result))
