"""Arithmetic operations of the calculator."""
