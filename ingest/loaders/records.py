"""Data files read without unstructured: JSON, JSON Lines, CSV and TSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ragline.ingest.decode import decode_text
from ragline.ingest.elements import TABLE, TEXT, Element
from ragline.ingest.loaders.tables import rows_to_text
from ragline.retrieval.errors import LoaderError

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"


def parse_json(data: bytes) -> list[Element]:
    """One element per top-level record: array items, or the members of an object."""
    try:
        value = json.loads(decode_text(data))
    except json.JSONDecodeError as exc:
        raise LoaderError(f"invalid JSON: {exc}") from None
    if isinstance(value, list):
        records = value
    elif isinstance(value, dict):
        records = [{key: item} for key, item in value.items()]
    else:
        records = [value]
    return [Element(text) for text in map(_record_text, records) if text.strip()]


def parse_jsonl(data: bytes) -> list[Element]:
    """One element per line; a line that is not JSON is an error naming its number."""
    out: list[Element] = []
    for number, line in enumerate(decode_text(data).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LoaderError(f"invalid JSON on line {number}: {exc.msg}") from None
        text = _record_text(record)
        if text.strip():
            out.append(Element(text, TEXT))
    return out


def _record_text(record: Any) -> str:
    if isinstance(record, str):
        return record
    return json.dumps(record, ensure_ascii=False, indent=2)


def parse_csv(data: bytes, delimiter: str | None = None) -> list[Element]:
    """The whole file as one table element, one row per line; the delimiter is sniffed."""
    text = decode_text(data)
    if delimiter is None:
        delimiter = _sniff_delimiter(text[:_SNIFF_BYTES])
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise LoaderError(f"invalid CSV: {exc}") from None
    table = rows_to_text(rows)
    return [Element(table, TABLE)] if table else []


def parse_tsv(data: bytes) -> list[Element]:
    return parse_csv(data, delimiter="\t")


def _sniff_delimiter(sample: str) -> str:
    # Only whole lines: a cut-off last line confuses the sniffer.
    sample = sample.rsplit("\n", 1)[0] if "\n" in sample else sample
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","
