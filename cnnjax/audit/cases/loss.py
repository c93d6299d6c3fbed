"""Cases for the loss ops."""

CASES = []
