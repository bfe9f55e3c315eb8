"""The ops control plane: what the bot may handle at all, and the switches ops (or the bot itself) pull.

    ScopeService   the automation scope, versioned in the database, the same on every worker (Redis fan-out)
    ScopeGate, IntentScopeGate   the scope checks the engine asks each turn, before and after understanding
    CircuitBreaker a flow that hands off, upsets or fails too often switches itself off (a new scope version)
    ReleaseStore   every deployed project version, restorable to a folder

:mod:`bot.ops.wiring` opens them for a process (see ``bot.app.runtime``); ``careline scope`` is
:mod:`bot.ops.cli`. The per-turn detectors and policy are :mod:`bot.guardrails`, which never import this
package (an import-linter contract in ``pyproject.toml``).
"""
