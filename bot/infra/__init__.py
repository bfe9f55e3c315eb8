"""Infrastructure: settings and the environment, logging, the event bus, conversation locks, rate limits,
the model cache, the sentence encoder and the optional LLM client.

Infrastructure builds on the kernel only; no dialogue, guardrail or knowledge logic lives here
(an import-linter contract checks it).
"""
