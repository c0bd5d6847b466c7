"""The ONNX backends against sentence-transformers, with the real default model (slow, all of it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from semsearch.chunking import chunk_text
from semsearch.embedders import ModelRef, resolve_model
from semsearch.embedders import load as load_embedder
from semsearch.embedders.onnx_export import copy_folder, model_file
from semsearch.embedders.torch import load_sentence_transformer

from .conftest import REPO
from .test_semantic import PARAPHRASES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ref() -> ModelRef:
    return resolve_model("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def passages(ref: ModelRef, sample_notes: Path) -> list[str]:
    """Every passage of sample_corpus/, cut as the indexer cuts them."""
    spans = load_embedder(ref, "onnx").token_spans
    texts = [p.read_text(encoding="utf-8") for p in sorted(sample_notes.rglob("*")) if p.is_file() and p.stat().st_size]
    return [c.text for t in texts for c in chunk_text(t, spans, 200, 32)]


@pytest.fixture(scope="module")
def vectors(ref: ModelRef, passages: list[str]) -> dict[str, np.ndarray]:
    """Passages and queries embedded by each backend."""
    out = {}
    for backend in ("torch", "onnx", "onnx-int8"):
        embedder = load_embedder(ref, backend)
        assert embedder.backend == backend
        queries = np.stack([embedder.embed_query(q) for q, _ in PARAPHRASES])
        out[backend] = (embedder.embed_documents(passages), queries)
    return out


def test_onnx_gives_sentence_transformers_vectors(vectors: dict, passages: list[str]) -> None:
    torch_docs, torch_queries = vectors["torch"]
    onnx_docs, onnx_queries = vectors["onnx"]
    assert len(passages) > 200
    assert np.allclose(np.linalg.norm(onnx_docs, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(torch_docs * onnx_docs, axis=1)
    assert cosines.mean() >= 0.999 and cosines.min() >= 0.999, (cosines.mean(), cosines.min())
    assert np.sum(torch_queries * onnx_queries, axis=1).min() >= 0.999


def test_int8_vectors_stay_close(vectors: dict) -> None:
    cosines = np.sum(vectors["torch"][0] * vectors["onnx-int8"][0], axis=1)
    assert cosines.mean() >= 0.98, cosines.mean()


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_same_top_ten_as_torch(vectors: dict, backend: str) -> None:
    torch_docs, torch_queries = vectors["torch"]
    docs, queries = vectors[backend]
    for i, (query, _) in enumerate(PARAPHRASES):
        expected = np.argsort(-(torch_docs @ torch_queries[i]), kind="stable")[:10]
        got = np.argsort(-(docs @ queries[i]), kind="stable")[:10]
        if backend == "onnx":
            assert list(got) == list(expected), query
        else:  # int8 may swap near-ties; the same passages must still be found
            assert len(set(got) & set(expected)) >= 8 and got[0] == expected[0], query


def test_the_window_is_the_models_not_the_tokenizer_files(ref: ModelRef) -> None:
    """MiniLM's tokenizer.json truncates at 128 tokens; sentence-transformers uses 256."""
    long_text = " ".join(f"word{i}" for i in range(400))
    torch_vec = load_embedder(ref, "torch").embed_documents([long_text])[0]
    onnx_vec = load_embedder(ref, "onnx").embed_documents([long_text])[0]
    assert float(torch_vec @ onnx_vec) >= 0.999


def test_a_query_never_imports_torch(sample_copy: Path) -> None:
    probe = (
        "import sys\n"
        "from semsearch.cli import app\n"
        f"try:\n    app(['query', 'logs filling the disk', '--index', {str(sample_copy)!r}, '-f', 'paths'])\n"
        "except SystemExit:\n    pass\n"
        "print('heavy:', sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert "howto/logrotate.md" in done.stdout, done.stderr
    assert "heavy: []" in done.stdout, done.stdout


def test_a_model_onnx_cannot_reproduce_runs_on_torch_with_a_notice(ref: ModelRef, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    original = load_sentence_transformer(ref)
    weighted = SentenceTransformer(modules=[original[0], Pooling(original.get_embedding_dimension(), "weightedmean")])
    weighted.save(str(tmp_path / "weighted"))
    embedder = load_embedder(resolve_model(str(tmp_path / "weighted")), "onnx")
    assert embedder.backend == "torch"
    assert any("weightedmean" in n and "using torch" in n for n in caplog.messages), caplog.messages
    assert embedder.embed_query("hello").shape == (original.get_embedding_dimension(),)


def test_a_damaged_copy_runs_on_torch_with_a_notice(ref: ModelRef, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    load_embedder(ref, "onnx")  # the real copy exists
    source = copy_folder(ref)
    monkeypatch.setenv("SEMSEARCH_CACHE_DIR", str(tmp_path))
    shutil.copytree(source, copy_folder(ref))
    model_file(copy_folder(ref), quantized=False).write_bytes(b"not a model")
    embedder = load_embedder(ref, "onnx")
    assert embedder.backend == "torch"
    assert any("would not load" in n for n in caplog.messages), caplog.messages
