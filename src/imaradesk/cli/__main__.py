"""``python -m imaradesk.cli``: the same command as the ``imaradesk`` script."""

from imaradesk.cli import main

main()
