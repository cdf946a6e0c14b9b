"""Export formats: JSON and CSV text, produced chunk by chunk so the CLI and a download can stream them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from portal.employees.fields import CUSTOM_PREFIX, EMPLOYEE_FIELDS

EXPORT_FORMATS: tuple[str, ...] = ("json", "csv")
CSV_DEPARTMENT_SEPARATOR = "; "
_CSV_TRAILING_COLUMNS = ("departments", "source", "status", "m365_id")


def json_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array of the rows, one element per chunk; non-ASCII text stays as it is."""
    yield "["
    for index, row in enumerate(rows):
        yield ("," if index else "") + "\n" + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"


def csv_chunks(rows: Iterable[dict[str, Any]], custom_keys: list[str]) -> Iterator[str]:
    """A header line, then one CSV line per row; custom fields become ``custom.<key>`` columns."""
    header = [*EMPLOYEE_FIELDS, *(CUSTOM_PREFIX + key for key in custom_keys), *_CSV_TRAILING_COLUMNS]
    yield _csv_line(header)
    for row in rows:
        yield _csv_line(
            [
                *(row[name] for name in EMPLOYEE_FIELDS),
                *(row["custom"].get(key, "") for key in custom_keys),
                CSV_DEPARTMENT_SEPARATOR.join(row["departments"]),
                row["source"],
                row["status"],
                row["m365_id"] or "",
            ]
        )


def _csv_line(values: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()
