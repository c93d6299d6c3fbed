"""``cnnjax train``: placeholder until its issue lands."""


def add_arguments(parser):
    pass


def run(args):
    raise SystemExit("cnnjax train: not implemented yet")
