"""Machine formats on stdout, built from the records' ``to_dict()`` (the machine schema)."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from ..records import Hit
from .console import Format

# One result set: the query it answers (None when there is a single query) and its hits.
ResultSet = tuple["str | None", list[Hit]]

FIELDS = ("rank", "score", "path", "start_line", "end_line", "text")


def hit_record(hit: Hit, query: str | None = None) -> dict[str, Any]:
    """A hit as a JSON-ready dict, with its query first when there are several."""
    return {**({} if query is None else {"query": query}), **hit.to_dict()}


def write_json(data: object, fmt: Format) -> None:
    """One JSON document (indented) for ``json``, one line for ``jsonl``."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2 if fmt is Format.json else None) + "\n")


def write_results(results: Sequence[ResultSet], fmt: Format) -> None:
    """Result sets as json, jsonl, tsv, csv or paths."""
    batch = len(results) > 1 or bool(results and results[0][0] is not None)
    write = sys.stdout.write
    if fmt is Format.json:
        if batch:
            data: object = [{"query": q, "results": [hit_record(h) for h in hits]} for q, hits in results]
        else:
            data = [hit_record(h) for h in results[0][1]] if results else []
        write_json(data, fmt)
    elif fmt is Format.jsonl:
        for query, hits in results:
            for hit in hits:
                write_json(hit_record(hit, query if batch else None), fmt)
    elif fmt is Format.paths:
        seen: set[str] = set()
        for _, hits in results:
            for hit in hits:
                if hit.path not in seen:
                    seen.add(hit.path)
                    write(hit.path + "\n")
    else:
        write(_delimited(results, fmt, batch))
    sys.stdout.flush()


def write_pairs(data: dict[str, Any]) -> None:
    """A record as ``key<TAB>value`` lines (lists as JSON)."""
    for key, value in data.items():
        sys.stdout.write(f"{key}\t{json.dumps(value) if isinstance(value, list) else value}\n")


def _delimited(results: Sequence[ResultSet], fmt: Format, batch: bool) -> str:
    """TSV: no header, tabs and newlines in text become spaces. CSV: a header, RFC 4180 quoting."""
    columns = (("query",) if batch else ()) + FIELDS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt is Format.csv:
        writer.writerow(columns)
    for query, hits in results:
        for hit in hits:
            record = hit_record(hit, query if batch else None)
            values = [str(record[c]) for c in columns]
            if fmt is Format.tsv:
                buffer.write("\t".join(_one_line(v) for v in values) + "\n")
            else:
                writer.writerow(values)
    return buffer.getvalue()


def _one_line(value: str) -> str:
    return re.sub(r"[\t\r\n]+", " ", value)
