"""``python -m bot`` runs the core's commands alone; ``python -m careline`` is the whole ``careline`` command."""

from bot.app.cli import main

main()
