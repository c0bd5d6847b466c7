"""The output formats (no Rich here: a machine format can be written without loading it)."""

from __future__ import annotations

from enum import Enum


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    tsv = "tsv"
    csv = "csv"
    paths = "paths"
    vimgrep = "vimgrep"
    context = "context"  # query only: the best passages as one block for a language model


MACHINE_FORMATS = (Format.json, Format.jsonl)
