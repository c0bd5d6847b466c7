"""Measure retrieval quality on a BEIR-layout dataset: ``semsearch eval``."""

from __future__ import annotations

from .beir import Dataset, doc_filename, doc_id, load_dataset, read_qrels
from .metrics import ndcg, recall, reciprocal_rank, score_runs
from .run import evaluate, prepare_index, run_eval

__all__ = ["Dataset", "doc_filename", "doc_id", "evaluate", "load_dataset", "ndcg", "prepare_index", "read_qrels",
           "recall", "reciprocal_rank", "run_eval", "score_runs"]
