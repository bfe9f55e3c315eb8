"""One customer across channels: customer records, continuity and the customer's data.

Modules: :mod:`.store` (customer records, contact points, verified conversations), :mod:`.matters` (what a
customer left open and moving it), :mod:`.continuity` (the stages that link and offer), :mod:`.wiring`,
:mod:`.config` (``customers:`` and ``retention:`` in config.yml). See docs/customers.md.

This package's ``__init__`` imports nothing: :mod:`bot.project.schema` imports :mod:`.config` while it loads.
"""
