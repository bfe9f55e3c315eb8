"""The kernel: the conversation's vocabulary, which every other part of ``bot`` speaks.

Events and the state derived from them, messages, typed errors, PII masking and the Rasa-style tracker view.
The kernel imports nothing else of ``bot`` (an import-linter contract checks it).
"""
