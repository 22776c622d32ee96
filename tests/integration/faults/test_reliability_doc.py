"""docs/reliability.md is generated from the fault-matrix rows, and every row is a test (and every test a row)."""

import ast
from pathlib import Path

from tests.integration.faults.matrix import all_rows, render

HERE = Path(__file__).parent
DOC = HERE.parents[2] / "docs" / "reliability.md"


def _matrix_tests() -> set[str]:
    names = set()
    for module in HERE.glob("test_*.py"):
        if module.name == Path(__file__).name:
            continue
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.add(node.name)
    return names


def test_the_document_is_generated_from_the_rows():
    assert DOC.read_text() == render(), (
        "docs/reliability.md is stale: run python -m tests.integration.faults.matrix docs/reliability.md")


def test_every_row_has_its_test_and_every_test_a_row():
    rows = {r.test_name for _, rows in all_rows() for r in rows}
    ids = [r.id for _, rows in all_rows() for r in rows]
    assert len(ids) == len(set(ids)), "row ids repeat"
    tests = _matrix_tests()
    assert rows - tests == set(), f"rows without a test: {sorted(rows - tests)}"
    assert tests - rows == set(), f"tests without a row: {sorted(tests - rows)}"
