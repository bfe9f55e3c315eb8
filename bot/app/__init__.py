"""Composition: the runtime that wires a project's stages, stores and services, and the core CLI.

Only entry points (CLIs) import from here; nothing in the pipeline, kernel or infrastructure does.
"""
