"""Machine formats on stdout, built from the records' ``to_dict()`` (the machine schema)."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ..records import Hit
from .escape import for_csv, for_tsv
from .formats import Format

# One result set: the query it answers (None when there is a single query) and its hits.
ResultSet = tuple["str | None", list[Hit]]

# Written as \uXXXX escapes in JSON: lone surrogates (bytes of a name that is not UTF-8) and
# DEL and the C1 controls, which json leaves raw (U+007F-U+009F; U+009B starts an escape sequence).
_ESCAPED = re.compile("[\x7f-\x9f\ud800-\udfff]")
FIELDS = ("rank", "score", "path", "start_line", "end_line", "text")


class PathShown(Protocol):
    """How the command line shows the index's root-relative paths (``semsearch.cli.paths``)."""

    @property
    def root(self) -> Path: ...

    def show(self, rel: str) -> str: ...
    def shown(self, hits: Sequence[Hit]) -> list[Hit]: ...
    def record(self, hit: Hit) -> dict[str, Any]: ...


def hit_record(hit: Hit, query: str | None = None, paths: PathShown | None = None) -> dict[str, Any]:
    """A hit as a JSON-ready dict, with its query first when there are several."""
    return {**({} if query is None else {"query": query}), **(hit.to_dict() if paths is None else paths.record(hit))}


def write_json(data: object, fmt: Format) -> None:
    """One JSON document (indented) for ``json``, one line for ``jsonl``. A file name that
    is not UTF-8 holds lone surrogates (one per byte that is not): they are written as
    ``\\udcXX`` escapes, so the output stays UTF-8 and the exact bytes can be recovered; DEL
    and the C1 controls are escaped too, so no terminal acts on them."""
    text = json.dumps(data, ensure_ascii=False, indent=2 if fmt is Format.json else None)
    sys.stdout.write(_ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


def write_results(results: Sequence[ResultSet], fmt: Format, paths: PathShown | None = None,
                  null: bool = False) -> None:
    """Result sets as json, jsonl, tsv, csv, paths (NUL-separated with ``null``) or vimgrep."""
    batch = len(results) > 1 or bool(results and results[0][0] is not None)
    write = sys.stdout.write
    show = paths.show if paths is not None else str
    if fmt is Format.json:
        if batch:
            data: object = [{"query": q, "results": [hit_record(h, None, paths) for h in hits]} for q, hits in results]
        else:
            data = [hit_record(h, None, paths) for h in results[0][1]] if results else []
        write_json(data, fmt)
    elif fmt is Format.jsonl:
        for query, hits in results:
            for hit in hits:
                write_json(hit_record(hit, query if batch else None, paths), fmt)
    elif fmt is Format.paths:
        seen: set[str] = set()
        for _, hits in results:
            for hit in hits:
                if hit.path not in seen:
                    seen.add(hit.path)
                    write(show(hit.path) + ("\0" if null else "\n"))
    elif fmt is Format.vimgrep:
        for _, hits in results:
            for hit in hits:
                write(vimgrep_line(hit, show(hit.path)) + "\n")
    else:
        write(_delimited(results, fmt, batch, paths))
    sys.stdout.flush()


def score_text(score: float) -> str:
    """Scores in text formats: always six decimals (JSON carries the same value, rounded)."""
    return f"{score:.6f}"


def vimgrep_line(hit: Hit, path: str) -> str:
    """``path:line:column:text`` (ripgrep's ``--vimgrep``; vim's quickfix and VS Code read it):
    the passage's first line that is not blank, best result first. Like TSV, the path's
    control characters are made visible: a line an editor reads, and a person sees."""
    lines = hit.text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    text = for_tsv(lines[first].strip()) if lines else ""
    return f"{for_tsv(path)}:{hit.start_line + first}:1:{text}"


def write_pairs(data: dict[str, Any], fmt: Format = Format.tsv) -> None:
    """A record as ``key<TAB>value`` lines, or ``key,value`` CSV with a header (lists as JSON)."""
    rows = [(key, json.dumps(value) if isinstance(value, (list, dict)) else "" if value is None else str(value))
            for key, value in data.items()]
    if fmt is Format.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("key", "value"))
        writer.writerows([(key, for_csv(value)) for key, value in rows])
        sys.stdout.write(buffer.getvalue())
    else:
        sys.stdout.write("".join(f"{key}\t{for_tsv(value)}\n" for key, value in rows))


def _delimited(results: Sequence[ResultSet], fmt: Format, batch: bool, paths: PathShown | None) -> str:
    """TSV: no header, tabs and newlines in text become spaces, other control characters
    visible. CSV: a header, RFC 4180 quoting, no cell a spreadsheet would run as a formula."""
    columns = (("query",) if batch else ()) + FIELDS
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if fmt is Format.csv:
        writer.writerow(columns)
    for query, hits in results:
        for hit in hits:
            record = hit_record(hit, query if batch else None, paths)
            record["score"] = score_text(hit.score)
            values = [str(record[c]) for c in columns]
            if fmt is Format.tsv:
                buffer.write("\t".join(for_tsv(v) for v in values) + "\n")
            else:
                writer.writerow([for_csv(v) for v in values])
    return buffer.getvalue()
