"""The ``careline`` application: where the core, the connectors and the evals are put together.

The layers only point down — :mod:`careline` → :mod:`connectors` / :mod:`evals` → :mod:`bot` — and this is the
one package allowed to import all of them (the contracts are ``[tool.importlinter]`` in ``pyproject.toml``,
checked by ``make contracts``).
"""
