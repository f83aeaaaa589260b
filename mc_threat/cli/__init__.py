"""The command line, ``mc-threat``: parsing and printing only (``main`` the entry point and
the run commands, ``analysis``, ``case``, ``history`` the other subcommands)."""

from .main import main  # noqa: F401
