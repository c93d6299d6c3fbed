"""Cases for the pool ops."""

CASES = []
