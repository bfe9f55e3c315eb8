"""``python -m bot`` is the ``careline`` command."""

from bot.cli import main

main()
