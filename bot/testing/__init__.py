"""Helpers for testing Careline bots (shipped so users can test their own)."""
