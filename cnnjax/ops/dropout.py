"""Placeholder."""
def dropout(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('dropout')

