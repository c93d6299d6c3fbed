"""Cases for the shape ops."""

CASES = []
