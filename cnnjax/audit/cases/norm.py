"""Cases for the norm ops."""

CASES = []
