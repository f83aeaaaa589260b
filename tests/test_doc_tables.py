"""The published tables equal what produces them now (scripts/doc_tables.py).

A change in the code that changes a case's accuracy, and with it possibly the study's
conclusion, fails here; ``python scripts/doc_tables.py`` then rewrites the tables, and the
diff shows what changed.
"""

from __future__ import annotations

import importlib.util

import pytest
from conftest import ROOT


@pytest.fixture(scope="module")
def doc_tables():
    spec = importlib.util.spec_from_file_location("doc_tables", ROOT / "scripts" / "doc_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def published(doc_tables, rel):
    return doc_tables.generated_blocks((ROOT / rel).read_text())


def test_case_results_in_the_docs_are_what_the_code_computes(doc_tables):
    """Every number of docs/cases.md's results table: the case defaults and the default
    calibration's nominal results (draws are not needed for any of them)."""
    table = published(doc_tables, "docs/cases.md")["cases"]
    assert table == doc_tables.cases_table(), (
        "docs/cases.md's results differ from what the code computes now; run "
        "python scripts/doc_tables.py and look at the diff")


def test_performance_tables_are_the_kept_benchmark_runs(doc_tables):
    perf = published(doc_tables, "docs/performance.md")
    assert perf["throughput"] == doc_tables.throughput_table()
    assert perf["stages"] == doc_tables.stages_table()
    assert perf["elementary"] == doc_tables.elementary_table()
    assert published(doc_tables, "README.md")["throughput"] == doc_tables.readme_table()


def test_a_changed_result_shows_up(doc_tables):
    """The comparison can fail: one state more on its side changes the table's text."""
    rows = [{"case": "c", "coding": "side", "scored": 17, "default_threat": 11,
             "default_power": 9, "best_threat": 14, "points_at_best": 3, "points": 4000,
             "best_power": 12, "threat_better": 0.35575, "power_better": 0.00275}]
    text = doc_tables.cases_table(rows)
    assert text.splitlines()[-1] == \
        "| c (side) | 11/17 | 9/17 | 14/17 (3 of 4000) | 12/17 | 36 % / 0.3 % |"
    rows[0]["default_threat"] = 12
    assert doc_tables.cases_table(rows) != text
    doc = f"a\n{doc_tables.BEGIN.format('cases')}\nold\n{doc_tables.END}\nb\n"
    new = doc_tables.replace_block(doc, "cases", text)
    assert doc_tables.generated_blocks(new) == {"cases": text}
    assert new.startswith("a\n") and new.endswith(f"{doc_tables.END}\nb\n")
