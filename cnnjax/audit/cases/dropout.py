"""Cases for the dropout ops."""

CASES = []
