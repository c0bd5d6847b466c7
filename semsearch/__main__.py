"""``python -m semsearch`` runs the command line."""

from .cli import run

run()
