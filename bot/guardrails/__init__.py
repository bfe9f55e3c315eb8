"""Guardrails: detectors observe each message and score signals, one policy decides.

    detect_human_request, detect_emotion, detect_regulated_topic, detect_complexity,
    detect_prompt_injection, detect_other_customer_data, detect_pii   →  list[Signal]
    ConfiguredPolicy.decide(signals, state)                             →  Decision

:mod:`bot.guardrails.wiring` builds them from a project's ``guardrails.yml``; the interface is
:mod:`bot.guardrails.base`. What the bot may handle at all (the automation scope, its circuit breaker,
releases) is the ops control plane, :mod:`bot.ops`, which this package never imports.
"""
