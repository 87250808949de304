"""Conformance suites that every sibling of a seam subclasses (pytest mixins)."""
