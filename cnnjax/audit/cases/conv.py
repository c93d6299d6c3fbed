"""Cases for the conv ops."""

CASES = []
