"""The ``careline`` command: the core's commands (:mod:`bot.app.cli`) plus what the connectors and the evals add.

    careline chat | validate | demo | kb | scope | handoff | report | qa   (bot)
    careline serve                                                   (connectors.web)
    careline call                                                    (connectors.voice)
    careline outbound status | create | run                          (connectors.outbound)
    careline eval [PATH... | nlu | kb | guard]                       (evals)
"""

from __future__ import annotations

import click

from bot.app import cli as core
from connectors.outbound.cli import outbound
from connectors.voice.cli import call
from connectors.web.cli import serve
from evals.cli import eval_group


@click.group()
@click.version_option(package_name="careline")
def main() -> None:
    """Careline: customer-service chatbots and voicebots with human handoff."""
    core.offline()


for _name, _command in (*core.main.commands.items(), ("serve", serve), ("call", call), ("outbound", outbound),
                        ("eval", eval_group)):
    main.add_command(_command, _name)
