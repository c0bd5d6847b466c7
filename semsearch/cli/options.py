"""Options several commands share, defined once."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import defaults
from ..render import Format
from ..search import MODES

# mypy cannot read members computed at run time (from search.MODES): it wants them literal.
Mode = Enum("Mode", {m: m for m in MODES}, type=str)  # type: ignore[misc]

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", "-i", help="The indexed folder (or its .semsearch); default: found by walking up "
                 "from here.", envvar="SEMSEARCH_INDEX", show_default=False),
]
FormatOpt = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="Output format; default: table on a terminal, tsv when piped.",
                 case_sensitive=False, show_default=False),
]
ReportFormatOpt = Annotated[
    Format | None,
    typer.Option("--format", "-f", help="json or jsonl for scripts; anything else prints the text summary.",
                 case_sensitive=False, show_default=False),
]
TopKOpt = Annotated[int, typer.Option("--top-k", "-k", help="How many results to show.", min=1)]
MinScoreOpt = Annotated[
    float | None, typer.Option("--min-score", help="Hide results scoring below this (cosine similarity for "
                                  "similar and --mode dense, e.g. 0.3; see the README for the other modes).")
]
PathOpt = Annotated[
    list[str] | None, typer.Option("--path", help="Only files matching this glob (repeatable), e.g. 'notes/*.md'.")
]
ModelGuardOpt = Annotated[
    str | None, typer.Option("--model", help="Fail unless the index was built with this model.", show_default=False)
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", show_default=False,
                 help=f"Model name (in the local Hugging Face cache) or folder; default {defaults.DEFAULT_MODEL}, "
                 "or the index's own. [env: SEMSEARCH_MODEL]"),
]
QueryPromptOpt = Annotated[
    str | None, typer.Option("--query-prompt", help="Text put before each query when embedding it, e.g. 'query: '; "
                                "default: the prompt the model declares, if any ('' for none).", show_default=False)
]
BackendOpt = Annotated[
    str | None,
    typer.Option("--backend", "-b", show_default=False,
                 help=f"How to run the model: {', '.join(defaults.BACKENDS)} (default {defaults.DEFAULT_BACKEND}, "
                 "or the index's own). onnx gives torch's vectors without loading torch; onnx-int8 is faster "
                 "still, with vectors about 0.99 alike. Queries use the index's backend. [env: SEMSEARCH_BACKEND]"),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", help="Torch device: cpu, cuda, mps (default: auto).", envvar="SEMSEARCH_DEVICE"),
]
BatchSizeOpt = Annotated[
    int | None, typer.Option("--batch-size", help=f"Passages per model batch (default {defaults.BATCH_SIZE}). "
                                "[env: SEMSEARCH_BATCH_SIZE]", min=1, show_default=False)
]
ChunkTokensOpt = Annotated[
    int | None, typer.Option("--chunk-tokens", help=f"Tokens per passage (default {defaults.CHUNK_TOKENS}, "
                                "at most the model's window).", show_default=False)
]
