"""Cases for the linear ops."""

CASES = []
