"""Implementations of the built-in step types (registered by ``maverick_core.builtin``)."""
