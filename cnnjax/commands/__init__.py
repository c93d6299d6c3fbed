"""Subcommands of the ``cnnjax`` CLI: each has ``add_arguments(parser)`` and ``run(args)``."""
