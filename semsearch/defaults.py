"""Built-in defaults, in one place.

Configuration flows: command-line flag > environment variable (``SEMSEARCH_*``)
> the index's own recorded settings > these defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INDEX_DIR_NAME = ".semsearch"
CATALOG_NAME = "catalog.sqlite"
FAISS_NAME = "vectors.faiss"
LOCK_NAME = "lock"
ENDPOINT_NAME = "server.json"  # where a running `serve` says how to reach it (owner-only; cli/remote.py)
# 2: FTS5 lexical index over the passages. 3: vectors as int8 codes with their scale, ids
# never reused, a journal of changes (so vector files are updated, not rewritten).
# Schema 2 indexes are still read, and `index` upgrades them without re-embedding.
# 4: progressive indexing: a passage's vector is empty until embedded (text is committed
# first), and filling it in is journaled; a schema 3 index gains that in place.
SCHEMA_VERSION = 4
READABLE_SCHEMAS = (2, 3, 4)

# How passages are turned into vectors: torch runs sentence-transformers; onnx runs an
# ONNX copy of the same model (same vectors, no torch at query time); onnx-int8 runs
# that copy with int8 weights (fastest; cosine about 0.99 to the fp32 vectors).
# The default is the fastest backend whose SciFact nDCG@10 is within 0.005 of torch's:
# onnx matches torch to four decimals; onnx-int8's dense score was 0.006 lower, and no int8
# variant measured on AVX2 reaches the 0.998 mean cosine an int8 default needs (BENCHMARKS.md).
BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx"

# Passages are cut to at most this many tokens (the model's own tokenizer); it is
# capped by the model's window, so nothing the model sees is silently truncated.
CHUNK_TOKENS = 200
OVERLAP_TOKENS = 32
BATCH_SIZE = 32

# Files larger than this are skipped with a warning; a notes folder rarely holds
# prose this big, and a stray log or dump would swamp the index.
MAX_FILE_SIZE = 5_000_000

# Indexing commits the text of new files first (lexical search works at once), every
# TEXT_COMMIT_EVERY passages; then embeds, committing vectors every COMMIT_EVERY passages,
# so an interrupted run keeps the work already done. Passages are sorted by length within
# windows of SORT_WINDOW (similar lengths batch with little padding).
COMMIT_EVERY = 256
TEXT_COMMIT_EVERY = 4096
SORT_WINDOW = 2048
# Files are tokenized for chunking in groups of about TOKENIZE_BYTES, one call each (on
# every core, in a thread, while the previous group is chunked and committed).
TOKENIZE_BYTES = 256 * 1024

# How the vector index searches: "auto" is exact (flat) while that is fast enough, then
# approximate (storage/vectors.py says where, and BENCHMARKS.md why); or flat, ivf, hnsw.
VECTOR_INDEXES = ("auto", "flat", "ivf", "hnsw")
VECTOR_INDEX = "auto"

TOP_K = 10
PER_FILE = 1

# How `query` ranks passages (dense, lexical or hybrid), and the weight of the dense
# list in the hybrid mix, chosen by measurement on SciFact's train queries (BENCHMARKS.md).
MODE: Final = "hybrid"
HYBRID_DENSE_WEIGHT = 0.5

# `query --format context`: the block's budget in tokens (the index model's tokenizer), and
# how many lines around a passage it may add, from the file, while they fit.
CONTEXT_TOKENS = 2000
CONTEXT_LINES = 3

def cache_dir() -> Path:
    """Where semsearch keeps what it can remake (ONNX copies of models):
    ``$SEMSEARCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/semsearch``, else ``~/.cache/semsearch``."""
    if os.environ.get("SEMSEARCH_CACHE_DIR"):
        return Path(os.environ["SEMSEARCH_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no HOME, and no home folder in the user database
            from .errors import BadInputError

            raise BadInputError("no cache folder: HOME is not set; set SEMSEARCH_CACHE_DIR or HOME") from None
    return Path(base).expanduser() / "semsearch"
