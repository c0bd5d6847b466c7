"""``python -m semsearch`` runs the command line."""

from .cli import app

app(prog_name="semsearch")
