"""``semsearch completion SHELL``: the shell completion script, printed to be installed once.

Completing costs nothing until a shell asks: the script runs ``semsearch`` with
``_SEMSEARCH_COMPLETE`` set, which :func:`~semsearch.cli.app.run` answers before any command.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from .app import app

COMPLETE_VAR = "_SEMSEARCH_COMPLETE"


class Shell(str, Enum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


@app.command()
def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell.",
                                                      case_sensitive=False)]) -> None:
    """Print the completion script for SHELL; install it once, e.g.:

    semsearch completion bash > ~/.local/share/bash-completion/completions/semsearch

    semsearch completion zsh > ~/.zfunc/_semsearch   (with fpath+=~/.zfunc before compinit)

    semsearch completion fish > ~/.config/fish/completions/semsearch.fish
    """
    from typer.completion import (
        get_completion_script,  # only here: completion costs other commands nothing
    )

    typer.echo(get_completion_script(prog_name="semsearch", complete_var=COMPLETE_VAR, shell=shell.value))
