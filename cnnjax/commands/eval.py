"""``cnnjax eval``: placeholder until its issue lands."""


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("cnnjax eval: not implemented yet")
