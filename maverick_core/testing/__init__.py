"""maverick's pytest plugin (entry point ``pytest11``): fixtures for plugin authors.

Includes the store/serializer conformance kit (:mod:`maverick_core.testing.conformance`).
"""
