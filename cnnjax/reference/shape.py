"""Placeholder."""
def flatten(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('flatten')

