"""Placeholder."""
def avg_pool2d(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('avg_pool2d')

def global_avg_pool2d(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('global_avg_pool2d')

def max_pool2d(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('max_pool2d')

