"""``python -m imagegate`` runs the CLI."""

from imagegate.cli import app

app()
