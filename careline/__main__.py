"""``python -m careline`` is the ``careline`` command."""

from careline.cli import main

main()
