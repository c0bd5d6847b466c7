"""Options several commands share, defined once."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import defaults
from ..render import Format
from ..search import MODES

Mode = Enum("Mode", {m: m for m in MODES}, type=str)  # type: ignore[misc]

# --help groups options in panels, so its first screen holds what most runs need.
MODEL_PANEL = "Model (recorded by the index)"
FILES_PANEL = "Files and passages"
RANKING_PANEL = "Ranking"
INDEX_PANEL = "Which index"

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", "-i", help="The indexed folder (or its .semsearch); default: found by walking up "
                 "from here.", envvar="SEMSEARCH_INDEX", show_default=False, metavar="DIR",
                 rich_help_panel=INDEX_PANEL),
]
FormatOpt = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="table, json, jsonl, tsv, csv, paths or vimgrep (path:line:col:text); "
                 "default: table on a terminal, tsv when piped.", case_sensitive=False, show_default=False,
                 metavar="FORMAT"),
]
ReportFormatOpt = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="json or jsonl for scripts; anything else prints the text summary.",
                 case_sensitive=False, show_default=False, metavar="FORMAT"),
]
TopKOpt = Annotated[int, typer.Option("--top-k", "-k", help="How many results to show.", min=1, metavar="N")]
MinScoreOpt = Annotated[
    float | None,
    typer.Option("--min-score", metavar="SCORE", help="Hide results scoring below this: in hybrid mode an estimated "
                 "probability of relevance, with a default floor (0 turns it off); cosine similarity for similar "
                 "and --mode dense; see the README.",
                 rich_help_panel=RANKING_PANEL),
]
PathOpt = Annotated[
    list[str] | None,
    typer.Option("--path", metavar="GLOB", help="Only files matching this glob (repeatable), e.g. 'notes/*.md', "
                 "relative to the current folder; '*.md' matches at any depth."),
]
WholeIndexOpt = Annotated[
    bool, typer.Option("--all", "-a", help="Search the whole index, not only the current folder (when run from a "
                       "subfolder of the indexed folder).")
]
NullOpt = Annotated[
    bool, typer.Option("--null", "-0", help="End each path with NUL, not a newline (for xargs -0); implies "
                       "--format paths.")
]
ContextOpt = Annotated[
    int, typer.Option("--context", "-C", help="Show N lines of the file before and after each passage (table only; "
                      "from files unchanged since they were indexed).", min=0, metavar="N")
]
AbsoluteOpt = Annotated[
    bool, typer.Option("--absolute", help="Print absolute paths (default: relative to the current folder, or "
                       "absolute when the index is outside it).")
]
ModelGuardOpt = Annotated[
    str | None,
    typer.Option("--model", metavar="NAME", help="Fail unless the index was built with this model.", show_default=False,
                 rich_help_panel=INDEX_PANEL),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", show_default=False, metavar="NAME",
                 help=f"Model name (in the local Hugging Face cache) or folder; default {defaults.DEFAULT_MODEL}, "
                 "or the index's own. [env: SEMSEARCH_MODEL]", rich_help_panel=MODEL_PANEL),
]
QueryPromptOpt = Annotated[
    str | None,
    typer.Option("--query-prompt", metavar="TEXT", help="Text put before each query when embedding it, e.g. "
                 "'query: '; default: the prompt the model declares, if any ('' for none).", show_default=False,
                 rich_help_panel=RANKING_PANEL),
]
BackendOpt = Annotated[
    str | None,
    typer.Option("--backend", "-b", show_default=False, metavar="NAME",
                 help=f"How to run the model: {', '.join(defaults.BACKENDS)} (default {defaults.DEFAULT_BACKEND}, "
                 "or the index's own; the README compares them). [env: SEMSEARCH_BACKEND]",
                 rich_help_panel=MODEL_PANEL),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", help="Torch device: cpu, cuda, mps (default: auto). \\[env: SEMSEARCH_DEVICE]",
                 envvar="SEMSEARCH_DEVICE", show_envvar=False, metavar="NAME", rich_help_panel=MODEL_PANEL),
]
BatchSizeOpt = Annotated[
    int | None,
    typer.Option("--batch-size", help=f"Passages per model batch (default {defaults.BATCH_SIZE}). "
                 "[env: SEMSEARCH_BATCH_SIZE]", min=1, show_default=False, metavar="N", rich_help_panel=MODEL_PANEL),
]
ChunkTokensOpt = Annotated[
    int | None,
    typer.Option("--chunk-tokens", metavar="N", help=f"Tokens per passage (default {defaults.CHUNK_TOKENS}, "
                 "at most the model's window).", show_default=False, rich_help_panel=FILES_PANEL),
]

# -- The shared store (PostgreSQL): cli/shared.py --
STORE_PANEL = "Shared index (PostgreSQL)"
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", metavar="URL", envvar="SEMSEARCH_STORE", show_default=False, show_envvar=False,
                 help="A postgresql:// URL to keep the index in (README). \\[env: SEMSEARCH_STORE]",
                 rich_help_panel=STORE_PANEL),
]
CollectionOpt = Annotated[
    str | None,
    typer.Option("--collection", metavar="NAME", show_default=False, rich_help_panel=STORE_PANEL,
                 help="The --store collection (default: folder name)."),
]
CollectionsOpt = Annotated[
    list[str] | None,
    typer.Option("--collection", metavar="NAME", show_default=False, rich_help_panel=STORE_PANEL,
                 help="With --store: search this collection (repeatable; default: every collection)."),
]
