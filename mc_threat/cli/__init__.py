"""The command line, ``mc-threat``: parsing and printing only (``main`` the entry point and
the run commands, ``analysis``, ``case``, ``history`` the other subcommands, ``options`` what
they share)."""

from .main import build_parser, main  # noqa: F401
