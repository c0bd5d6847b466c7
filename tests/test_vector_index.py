"""The vector index behind the storage seam: flat, ivf and hnsw segments, the delta and
its merges, filters that still return exactly top-k, the change journal, reloading from
disk, and upgrading a schema 2 index. Real SQLite and faiss; vectors from the fake embedder
(a few thousand passages of made-up text), or the real model on the sample corpus (slow).
"""

from __future__ import annotations

import itertools
import random
import shutil
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from semsearch import Index, sync
from semsearch.cli import app
from semsearch.defaults import SCHEMA_VERSION
from semsearch.embedders import ModelRef
from semsearch.storage import LocalStore, NewPassage, segmented
from semsearch.storage.shapes import Shape

from .conftest import notices
from .fakes import FakeEmbedder, FakeFactory, fake_loader

FAKE = FakeEmbedder(ModelRef("fake", Path(".")))
WORDS = [f"w{i}" for i in range(400)]


def fill(store: LocalStore, files: int, seed: int = 0, per_file: int = 10, prefix: str = "f") -> None:
    """``files`` made-up files of ``per_file`` passages each, embedded by the fake embedder."""
    rng = random.Random(seed)
    with store.catalog.transaction():
        for f in range(files):
            texts = [" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(per_file)]
            vecs = FAKE.embed_documents(texts)
            store.catalog.put_file(f"{prefix}{f // 10}/{f}.txt", 1, 1, f"d{f}",
                                   [NewPassage(i, i, t, v) for i, (t, v) in enumerate(zip(texts, vecs, strict=True))])


def make_store(tmp_path: Path, kind: str, files: int = 400) -> LocalStore:
    from semsearch.settings import Settings

    (tmp_path / kind).mkdir(parents=True)
    store = LocalStore.create(tmp_path / kind / ".semsearch", Settings(dimension=64, vector_index=kind))
    fill(store, files)
    store.write_vectors()
    return store


def queries(n: int = 40, seed: int = 1) -> list[np.ndarray]:
    rng = random.Random(seed)
    return [FAKE.embed_query(" ".join(rng.choice(WORDS) for _ in range(6))) for _ in range(n)]


def top(index, q: np.ndarray, k: int = 10, allowed=None) -> list[int]:
    return [i for i, _ in index.search(q, k, allowed)]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LocalStore]:
    folder = tmp_path_factory.mktemp("kinds")
    return {kind: make_store(folder, kind) for kind in ("flat", "ivf", "hnsw")}


@pytest.mark.slow
def test_each_kind_is_chosen_and_described(stores: dict[str, LocalStore]) -> None:
    assert [stores[k].vectors().shape.kind for k in ("flat", "ivf", "hnsw")] == ["flat", "ivf", "hnsw"]
    assert stores["ivf"].describe().startswith("ivf (100 lists")  # 4,000 passages: 4000 // 40 lists
    assert Shape.for_size("auto", 100_000).kind == "flat" and Shape.for_size("auto", 100_001).kind == "ivf"
    assert Shape.for_size("ivf", 1_000_000).nlist == 4000  # 4·√n
    flat, ivf = Shape.for_size("auto", 100_000), Shape.for_size("auto", 101_000)
    assert flat.still_fits("auto", 101_000) and not flat.still_fits("auto", 130_000)  # no rebuild for a few
    assert ivf.still_fits("auto", 99_000) and not ivf.still_fits("auto", 70_000)
    assert not flat.still_fits("ivf", 100_000) and ivf.still_fits("ivf", 150_000) and not ivf.still_fits("ivf", 250_000)


def recall(index, flat, q: np.ndarray, k: int = 10, allowed=None) -> float:
    """The share of ``index``'s top ``k`` that are among flat's top ``k``, a tie counting
    as a match (the fake embedder's word counts make many equal scores)."""
    got, want = index.search(q, k, allowed), flat.search(q, k, allowed)
    exact = dict(flat.search(q, k, {i for i, _ in got}))
    return sum(exact[i] >= want[-1][1] - 1e-3 for i, _ in got) / len(want)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
@pytest.mark.slow
def test_approximate_kinds_find_the_exact_top_10(stores: dict[str, LocalStore], kind: str) -> None:
    flat, ann = stores["flat"].vectors(), stores[kind].vectors()
    assert len(ann) == len(flat) == 4000
    assert np.mean([recall(ann, flat, q) for q in queries()]) >= 0.95
    # Searched through (every list, or a wide graph walk), they find flat's top 10 exactly.
    usual = ann.main.shape
    ann.main.shape = Shape(kind, 4000, nlist=usual.nlist, nprobe=usual.nlist, ef_search=4000)
    try:
        for q in queries(10):
            assert recall(ann, flat, q) == 1.0
            got, want = dict(ann.search(q, 10)), dict(flat.search(q, 10, {i for i, _ in ann.search(q, 10)}))
            assert all(abs(got[i] - want[i]) < 0.02 for i in got)  # 8-bit codes against float16
    finally:
        ann.main.shape = usual


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
@pytest.mark.parametrize("share", [0.005, 0.05, 0.5])
def test_a_filter_returns_exactly_the_top_k_it_allows(stores: dict[str, LocalStore], kind: str, share: float) -> None:
    index, flat = stores[kind].vectors(), stores["flat"].vectors()
    rng = np.random.default_rng(int(share * 1000))
    ids = np.asarray(sorted(flat.main.ids))
    allowed = set(rng.choice(ids, int(len(ids) * share), replace=False).tolist())
    for q in queries(8):
        got = top(index, q, 10, allowed)
        assert len(got) == min(10, len(allowed)) and set(got) <= allowed  # never short, never foreign
        assert recall(index, flat, q, 10, allowed) >= 0.8
    assert top(index, queries(1)[0], 10, set()) == []
    assert len(top(index, queries(1)[0], 10_000)) == 4000  # more than an approximate search holds


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
@pytest.mark.slow
def test_updates_go_to_a_delta_then_merge_and_reload_the_same(tmp_path: Path, kind: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = make_store(tmp_path, kind, files=200)
    main = store._files["passages"].main
    nonce = main.read_bytes()[-56:-48]
    gone = [f"f{f // 10}/{f}.txt" for f in range(0, 200, 20)]  # one file in 20
    removed = set(store.catalog.passage_ids(gone))
    with store.catalog.transaction():
        for path in gone:
            store.catalog.delete_file(path)
    fill(store, 30, seed=9, prefix="new")
    store.write_vectors()
    assert main.read_bytes()[-56:-48] == nonce  # the main segment was not rewritten
    live = store.vectors()
    assert len(live) == store.catalog.count_passages() == 190 * 10 + 300
    assert len(live.delta_ids) == 300 and len(live.tombstones) == 100
    before = [top(live, q, 20) for q in queries(10)]
    assert not removed & {i for r in before for i in r}
    assert not removed & {i for i, _ in live.search(queries(1)[0], 10_000)}
    with LocalStore.open(store.index_dir) as again:  # from disk: main mapped, delta read
        assert [top(again.vectors(), q, 20) for q in queries(10)] == before
    # A merge folds the delta in (hnsw keeps its tombstones until rebuilt).
    monkeypatch.setattr(segmented, "MERGE_MIN", 100)
    fill(store, 1, seed=10, prefix="last")
    store.write_vectors()
    assert main.read_bytes()[-56:-48] != nonce
    with LocalStore.open(store.index_dir) as merged:
        index = merged.vectors()
        assert len(index.delta_ids) == 0 and len(index) == merged.catalog.count_passages() == 2210
        assert len(index.tombstones) == (100 if kind == "hnsw" else 0)
        after = [top(index, q, 20) for q in queries(10)]
        assert np.mean([len(set(a) & set(b)) / 20 for a, b in zip(after, before, strict=True)]) >= 0.9
        assert not removed & {i for i, _ in index.search(queries(1)[0], 10_000)}


def test_the_journal_lets_readers_and_writers_catch_up(tmp_path: Path) -> None:
    store = make_store(tmp_path, "flat", files=50)
    generation = store.catalog.generation
    assert store.catalog.changes_since("passages", generation).tolist() == []
    fill(store, 5, seed=3, prefix="late")  # committed, vector files not yet written (a killed run)
    assert len(store.catalog.changes_since("passages", generation)) == 50
    with LocalStore.open(store.index_dir) as reader, notices() as told:
        assert not reader.vectors_current()
        assert len(reader.vectors()) == 550 and told == []  # caught up from 50 rows, not rebuilt
    store.write_vectors()
    assert store.vectors_current() and store.catalog.changes_since("passages", generation) is None  # forgotten


def test_a_damaged_or_cut_vector_file_is_rebuilt_with_a_notice(tmp_path: Path) -> None:
    store = make_store(tmp_path, "ivf", files=100)
    fill(store, 2, seed=4, prefix="more")
    store.write_vectors()
    want = top(store.vectors(), queries(1)[0])
    delta, main = store.index_dir / "vectors.delta", store.index_dir / "vectors.faiss"
    for damage in (lambda: delta.write_bytes(delta.read_bytes()[:100] + b"X" + delta.read_bytes()[101:]),
                   lambda: main.write_bytes(main.read_bytes()[:-1000])):
        damage()
        with LocalStore.open(store.index_dir) as reader, notices() as told:
            assert len(reader.vectors()) == 1020  # rebuilt from the catalog (retrained: ties may fall otherwise)
            assert len(set(top(reader.vectors(), queries(1)[0])) & set(want)) >= 7
            assert len(told) == 1 and "vectors.faiss was" in told[0] and "rebuilt it from the catalog" in told[0]
        store.write_vectors()  # the next index run writes it anew
        with LocalStore.open(store.index_dir) as reader, notices() as told:
            assert len(reader.vectors()) == 1020 and told == []


def test_vector_index_kind_is_remembered_shown_and_changed_without_re_embedding(notes: Path,
                                                                                 monkeypatch) -> None:
    monkeypatch.setattr("semsearch.embedders.load", fake_loader)
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(notes), "--vector-index", "hnsw"]).exit_code == 0
    info = runner.invoke(app, ["info", "--index", str(notes), "--format", "json"])
    assert '"vector_index": "hnsw"' in info.stdout and "hnsw (M 32" in info.stdout
    fake = FakeFactory()
    report = sync(notes, embedder_factory=fake, vector_index="ivf")
    assert report.passages_embedded == 0 and fake.passages_embedded == 0
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        assert idx.settings.vector_index == "ivf" and idx.info().vector_index.startswith("ivf")
        assert idx.query("rotate logs", mode="dense")[0].path == "logs.md"
    bad = runner.invoke(app, ["index", str(notes), "--vector-index", "lsh"])
    assert bad.exit_code == 2 and "lsh" in bad.stderr
    monkeypatch.setenv("SEMSEARCH_VECTOR_INDEX", "annoy")
    bad = runner.invoke(app, ["index", str(notes)])
    assert bad.exit_code == 2 and "unknown vector index 'annoy'" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_similar_uses_the_file_index(notes: Path) -> None:
    sync(notes, embedder_factory=FakeFactory())
    (notes / "bread2.md").write_text("Sourdough bread: flour, water, salt, a starter; knead and proof.\n")
    sync(notes, embedder_factory=FakeFactory())
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        files = idx.store.file_index()
        assert len(files) == 4 and len(files.delta_ids) == 1
        hits = idx.similar(notes / "bread.txt")
        assert hits[0].path == "bread2.md" and "bread.txt" not in [h.path for h in hits]
        assert [h.path for h in idx.similar(notes / "bread.txt", path_glob=["sub/*"])] == ["sub/kyoto.md"]


def make_schema_2(index_dir: Path) -> None:
    """Turn an index into what semsearch wrote before schema 3: float32 vectors in the
    catalog, no journal, and a flat float32 vectors.faiss behind a 16-byte header."""
    import faiss

    conn = sqlite3.connect(index_dir / "catalog.sqlite")
    dimension = 64
    from semsearch.storage import codec

    with conn:
        for table, column in (("chunks", "vector"), ("files", "centroid")):
            rows = conn.execute(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL").fetchall()
            for rid, blob in rows:
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?",
                             (codec.decode([blob], dimension)[0].astype("<f4").tobytes(), rid))
        for trigger in ("chunks_changes_insert", "chunks_changes_delete", "files_changes_insert",
                        "files_changes_delete", "files_changes_update", "chunks_changes_vector"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE changes")
        conn.execute("DELETE FROM meta WHERE key = 'changes_since'")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        generation = int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        rows = conn.execute("SELECT id, vector FROM chunks").fetchall()
    conn.close()
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))
    flat.add_with_ids(np.stack([np.frombuffer(b, "<f4") for _, b in rows]), np.array([r for r, _ in rows]))
    for name in ("vectors.faiss", "vectors.delta", "files.faiss", "files.delta"):
        (index_dir / name).unlink(missing_ok=True)
    (index_dir / "vectors.faiss").write_bytes(b"SEMSFAI1" + struct.pack("<Q", generation)
                                              + faiss.serialize_index(flat).tobytes())


def test_a_schema_2_index_is_read_then_upgraded_without_re_embedding(notes: Path) -> None:
    sync(notes, embedder_factory=FakeFactory())
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        want = [(h.path, round(h.score, 2)) for h in idx.query("rotate logs", mode="dense")]
    make_schema_2(notes / ".semsearch")
    with Index(notes, embedder_factory=FakeFactory()) as idx, notices() as told:
        assert [(h.path, round(h.score, 2)) for h in idx.query("rotate logs", mode="dense")] == want
        assert idx.similar(notes / "bread.txt") and told == []  # read as it is
    fake = FakeFactory()
    with notices() as told:
        report = sync(notes, embedder_factory=fake)
    assert fake.passages_embedded == 0 and report.files == 3
    assert any("upgraded the index" in n for n in told) and len(told) == 1
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        assert idx.store.catalog.schema == SCHEMA_VERSION
        assert [(h.path, round(h.score, 2)) for h in idx.query("rotate logs", mode="dense")] == want
    conn = sqlite3.connect(notes / ".semsearch" / "catalog.sqlite")
    assert {r[0] for r in conn.execute("SELECT length(vector) FROM chunks")} == {4 + 64}  # was 4 × 64
    conn.close()
    assert sorted(p.name for p in notes.iterdir() if p.name.startswith(".semsearch")) == [".semsearch"]


def test_a_schema_3_index_is_upgraded_in_place_then_indexes_progressively(notes: Path) -> None:
    sync(notes, embedder_factory=FakeFactory())
    catalog = notes / ".semsearch" / "catalog.sqlite"
    conn = sqlite3.connect(catalog)
    with conn:  # what semsearch wrote before progressive indexing: no unembedded index, no trigger
        conn.execute("DROP TRIGGER chunks_changes_vector")
        conn.execute("DROP INDEX chunks_unembedded")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        assert idx.store.catalog.schema == 3 and idx.info().unembedded == 0
        want = [(h.path, round(h.score, 4)) for h in idx.query("rotate logs", mode="dense")]
    (notes / "tea.md").write_text("Green tea is steeped briefly in water below boiling.\n")
    fake = FakeFactory()
    report = sync(notes, embedder_factory=fake)
    assert fake.passages_embedded == 1 and report.added == ["tea.md"]  # nothing else embedded again
    conn = sqlite3.connect(catalog)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name IN ('chunks_changes_vector', "
                        "'chunks_unembedded')").fetchone()[0] == 2
    conn.close()
    with Index(notes, embedder_factory=FakeFactory()) as idx:
        assert [(h.path, round(h.score, 4)) for h in idx.query("rotate logs", mode="dense")
                if h.path != "tea.md"] == want
        assert idx.query("green tea")[0].path == "tea.md"


# How far an 8-bit code's cosine may be from flat's float16 one (observed: under 0.001).
CODE_ROUNDING = 0.003


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_on_the_sample_corpus_each_kind_gives_flats_top_10(sample_copy: Path, tmp_path: Path, kind: str) -> None:
    """The same ten passages as flat, in flat's order, up to the codes' rounding: two
    passages whose flat cosines differ by less than it may trade places (at rank 10 too)."""
    copy = tmp_path / "sample"
    shutil.copytree(sample_copy, copy)
    questions = ["what to do with kitchen scraps and fallen leaves", "training for a race", "bread dough",
                 "how do I stop my disk filling up with logs", "a city trip in autumn"]
    with Index(copy) as idx:
        assert idx.settings.vector_index == "auto" and idx.info().vector_index.startswith("auto: flat")
        want = [{(h.path, h.start_line): h.score for h in idx.query(q, mode="dense", per_file=None, top_k=30)}
                for q in questions]
    report = sync(copy, vector_index=kind)
    assert report.passages_embedded == 0
    with Index(copy) as idx:
        assert idx.info().vector_index.startswith(kind)
        for q, flat in zip(questions, want, strict=True):
            tenth = sorted(flat.values(), reverse=True)[9]
            got = [((h.path, h.start_line), h.score) for h in idx.query(q, mode="dense", per_file=None)]
            assert len(got) == 10
            exact = [flat[key] for key, _ in got]  # a passage outside flat's top 30 fails here
            assert all(abs(score - flat[key]) <= CODE_ROUNDING for key, score in got), (q, got)
            assert min(exact) >= tenth - CODE_ROUNDING, (q, got)  # only a near-tie enters the ten
            assert all(a >= b - CODE_ROUNDING for a, b in itertools.pairwise(exact)), (q, got)  # flat's order
