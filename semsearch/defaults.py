"""Built-in defaults, in one place.

Configuration flows: command-line flag > environment variable (``SEMSEARCH_*``)
> the index's own recorded settings > these defaults.
"""

from __future__ import annotations

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
INDEX_DIR_NAME = ".semsearch"
CATALOG_NAME = "catalog.sqlite"
FAISS_NAME = "vectors.faiss"
LOCK_NAME = "lock"
SCHEMA_VERSION = 2  # 2: FTS5 lexical index over the passages

# Passages are cut to at most this many tokens (the model's own tokenizer); it is
# capped by the model's window, so nothing the model sees is silently truncated.
CHUNK_TOKENS = 200
OVERLAP_TOKENS = 32
BATCH_SIZE = 32

# Files larger than this are skipped with a warning; a notes folder rarely holds
# prose this big, and a stray log or dump would swamp the index.
MAX_FILE_SIZE = 5_000_000

# Embedded passages are committed to the catalog every this many passages, so an
# interrupted run keeps the work already done.
COMMIT_EVERY = 256

TOP_K = 10
PER_FILE = 1

# How `query` ranks passages (dense, lexical or hybrid), and the weight of the dense
# list in the hybrid mix, chosen by measurement on SciFact's train queries (BENCHMARKS.md).
MODE = "hybrid"
HYBRID_DENSE_WEIGHT = 0.7
