"""Guardrails: detectors observe each message and score signals, one policy decides, and the
automation scope (the roll-back switch) says what the bot may handle at all.

    detect_human_request, detect_emotion, detect_regulated_topic, detect_complexity,
    detect_prompt_injection, detect_other_customer_data, detect_pii   →  list[Signal]
    ConfiguredPolicy.decide(signals, state)                             →  Decision
    ScopeService (versioned history, rollback, Redis fan-out), ScopeGate, CircuitBreaker

:mod:`bot.guardrails.wiring` builds them from a project's ``guardrails.yml``; the interface is
:mod:`bot.guardrails.base`.
"""
