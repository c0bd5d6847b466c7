"""The embedding phase's pipeline: batches queued on worker threads while the previous
one is stored (as with the ONNX backends). A failure or an interrupt in a worker thread
surfaces in the caller, as itself and without a hang; what was committed is kept."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from semsearch import Index, defaults, sync
from semsearch.embedders import ModelRef
from semsearch.embedders.parallel import ForwardPool

from .fakes import FakeFactory, QueuingFake

REF = ModelRef("fake", Path("."))


def many_notes(root: Path, n: int) -> Path:
    root.mkdir()
    for i in range(n):
        (root / f"note{i:03}.md").write_text(f"Note {i} about topic {i % 7} and idea {i * 13 % 11}.\n")
    return root


class Queuing:
    """A factory of QueuingFake embedders whose ``fail_at``-th forward pass raises ``error``."""

    def __init__(self, fail_at: int = 0, error: BaseException | None = None) -> None:
        self.fail_at, self.error, self.made = fail_at, error, []

    def __call__(self, ref: ModelRef, backend: str = "torch", **_options: object) -> QueuingFake:
        embedder = QueuingFake(ref, backend, fail_at=self.fail_at)
        if self.error is not None:
            forward, error = embedder._forward, self.error

            def failing(texts: list[str]) -> np.ndarray:
                if embedder.forwards + 1 == embedder.fail_at:
                    raise error
                return forward(texts)

            embedder._pool = ForwardPool(failing, 2)
        self.made.append(embedder)
        return embedder


def test_the_pipeline_stores_the_same_vectors_as_one_call_at_a_time(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(defaults, "COMMIT_EVERY", 10)
    monkeypatch.setattr(defaults, "SORT_WINDOW", 20)
    queued, serial = many_notes(tmp_path / "a", 45), many_notes(tmp_path / "b", 45)
    factory = Queuing()
    assert sync(queued, embedder_factory=factory).passages_embedded == 45
    sync(serial, embedder_factory=FakeFactory())
    assert factory.made[0].calls == [10] * 4 + [5] and factory.made[0].forwards == 4 * 3 + 2  # of 4 passages
    with Index(queued, embedder_factory=FakeFactory()) as a, Index(serial, embedder_factory=FakeFactory()) as b:
        for path in a.store.catalog.files():
            assert np.array_equal(a.store.catalog.file_vectors(path)[1], b.store.catalog.file_vectors(path)[1])


@pytest.mark.parametrize("error", [RuntimeError("forward pass failed"), KeyboardInterrupt()])
def test_a_failing_worker_surfaces_as_itself_and_keeps_the_committed_batches(
    tmp_path: Path, monkeypatch, error: BaseException
) -> None:
    monkeypatch.setattr(defaults, "COMMIT_EVERY", 8)  # two forward passes of 4 per batch
    monkeypatch.setattr(defaults, "SORT_WINDOW", 16)
    root = many_notes(tmp_path / "many", 45)
    done = threading.Event()
    caught: list[BaseException] = []

    def index() -> None:
        try:
            sync(root, embedder_factory=Queuing(fail_at=7, error=error))  # in the 4th batch
        except BaseException as exc:  # noqa: BLE001 - the test looks at what came out
            caught.append(exc)
        done.set()

    threading.Thread(target=index, daemon=True).start()
    assert done.wait(60), "the run hung after a worker failed"
    assert len(caught) == 1 and type(caught[0]) is type(error)
    with Index(root, embedder_factory=FakeFactory()) as idx:
        info = idx.info()
        # Every file's text; the batches stored before the failing one (the 3rd had run, the 4th failed).
        assert info.files == 45 and info.passages - info.unembedded == 24
    report = sync(root, embedder_factory=Queuing())
    assert report.passages_embedded == 45 - 24 and not report.added


def test_pool_keeps_the_callers_order_and_raises_a_workers_error() -> None:
    started = threading.Event()
    release = threading.Event()

    def forward(items: list[int]) -> np.ndarray:
        if items == [0]:
            started.set()
            release.wait(10)
            raise ValueError("first batch failed")
        return np.array([[float(i)] for i in items], np.float32)

    pool = ForwardPool(forward, 2)
    ok = pool.submit(np.zeros((4, 1), np.float32), [([3, 2], [2, 3]), ([1, 0], [0, 1])])
    assert ok.result().ravel().tolist() == [1, 0, 3, 2]  # each row where the caller put it
    failing = pool.submit(np.zeros((3, 1), np.float32), [([0], [0]), ([1], [1]), ([2], [2])])
    assert started.wait(10)
    release.set()
    with pytest.raises(ValueError, match="first batch failed"):
        failing.result()
