"""Composition root: CLI, settings loading and runtime wiring."""

__version__ = "0.1.0"
