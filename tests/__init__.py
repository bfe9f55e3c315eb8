"""Careline tests."""
