"""The curated mutants of ``make mutants`` (scripts/mutants.py) still apply to the sources.

Each mutant replaces one piece of text that must occur exactly once in its file; after a
kernel is rewritten (the 0.2.0 arithmetic moved several lines) a stale entry would only be
noticed when someone runs the hour-long mutation run. This checks them in a second.
"""

from __future__ import annotations

import importlib.util

import pytest
from conftest import ROOT


def _mutants():
    spec = importlib.util.spec_from_file_location("mutants", ROOT / "scripts" / "mutants.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.MUTANTS


def test_mutant_names_are_unique():
    names = [m[0] for m in _mutants()]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("mutant", _mutants(), ids=lambda m: m[0])
def test_mutant_text_occurs_once_and_changes_the_source(mutant):
    ident, rel, old, new, _what = mutant
    text = (ROOT / rel).read_text()
    assert text.count(old) == 1, f"{ident}: {old!r} occurs {text.count(old)} times in {rel}"
    assert new != old
