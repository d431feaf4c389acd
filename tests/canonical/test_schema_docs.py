"""docs/data-model.md lists every canonical field with its required flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from canonical.schema import TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_field_is_documented(table: str) -> None:
    text = DOC.read_text()
    assert f"## `{table}`" in text
    section = text.split(f"## `{table}`", 1)[1].split("\n## ", 1)[0]
    for field in TABLES[table].fields:
        required = "yes" if field.required else "no"
        assert f"| `{field.name}` |" in section, field.name
        row = next(line for line in section.splitlines() if line.startswith(f"| `{field.name}` |"))
        assert f"| {required} |" in row, field.name
