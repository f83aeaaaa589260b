"""The errors of mc-threat: one vocabulary for bad input, raised where it is found and turned
into one line ``mc-threat: error: <field>: <problem>`` (exit status 2) by the command line.

* :class:`ConfigError`: an invalid configuration, case file, data file or option value;
* :class:`StoreError`: a results store that cannot be used as asked (exists, differs, damaged,
  not an mc-threat store).

Both are importable from where they were first defined too (``mc_threat.config``,
``mc_threat.store``).
"""

from __future__ import annotations

from collections.abc import Iterable


class ConfigError(ValueError):
    """An invalid configuration: one line per problem.

    Parameters
    ----------
    errors : str or iterable of str
        The problems, each ``dotted.path: message`` (a string is split into lines).
    source : str, optional
        Where the configuration came from (a file name), if known.

    Attributes
    ----------
    errors : list of str
        One line per problem; ``str(error)`` joins them with newlines.
    source : str or None
    """

    def __init__(self, errors: str | Iterable[str], source: str | None = None) -> None:
        lines = errors.splitlines() if isinstance(errors, str) else list(errors)
        self.errors: list[str] = [line for line in lines if line] or ["invalid configuration"]
        self.source = source
        super().__init__("\n".join(self.errors))

    def __str__(self) -> str:
        return "\n".join(self.errors)

    def __reduce__(self):  # picklable across dask workers despite the custom __init__
        return (type(self), (self.errors, self.source))


class StoreError(ValueError):
    """A results store cannot be used as asked (exists, differs, damaged)."""
