"""Placeholder."""
def conv2d(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('conv2d')

def conv2d_grad_input(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('conv2d_grad_input')

def conv2d_grad_weight(*args, **kwargs):  # placeholder until the family lands
    raise NotImplementedError('conv2d_grad_weight')

