"""``python -m shelf`` is the same as the ``shelf`` command."""

from shelf.cli import main

main()
