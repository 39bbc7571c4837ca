"""load_file on every kind of bad input: one clear, one-line reason each, never a crash."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ragline.ingest.loaders import SUPPORTED_SUFFIXES
from ragline.ingest.loaders.partition import prepare_unstructured
from ragline.retrieval.errors import BackendUnavailable, LoaderError
from tests.ingest.loading import load

# --- bad input ----------------------------------------------------------------------------

BAD_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("empty", r"empty file", {}),
    ("blank_text", r"no text found", {}),
    ("binary_txt", r"binary content, not text", {}),
    ("control_txt", r"binary content, not text", {}),
    ("huge", r"file is 101\.0 MB, over the 100 MB limit", {}),
    ("truncated_pdf", r"corrupt PDF: .+", {}),
    ("junk_pdf", r"corrupt PDF: .+", {}),
    ("text_as_pdf", r"not a PDF file \(no %PDF header\)", {}),
    ("blank_pdf", r"no text found \(the PDF has no text layer and OCR is off\)", {"pdf_ocr": False}),
    ("encrypted_pdf", r"password-protected document", {}),
    ("encrypted_docx", r"password-protected document", {}),
    ("encrypted_xlsx", r"password-protected document", {}),
    ("text_as_docx", r"corrupt \.docx file: not a valid zip archive.*", {}),
    ("ole_docx", r".*legacy binary Office file, not a valid \.docx file", {}),
    ("zip_no_docx", r"could not parse \.docx file: There is no item named .+", {}),
    ("zip_bomb_docx", r"archive inflates to 60\.0 MB, \d+ times its packed size.*", {}),
    ("zip_bomb_xlsx", r"archive inflates to 60\.0 MB, \d+ times its packed size.*", {}),
    ("zip_bomb_xlsx", r"archive inflates to 60\.0 MB, over the 50 MB limit", {"max_unzipped_mb": 50}),
    ("unsupported", r"unsupported file type \.xyz", {}),
    ("no_suffix", r"unsupported file type \(no suffix\)", {}),
    ("bad_json", r"invalid JSON: Expecting .+", {}),
    ("bad_jsonl", r"invalid JSON on line 3: .+", {}),
    ("empty_json", r"no text found", {}),
    ("tags_only_html", r"no text found", {}),
    ("dir", r"is a directory, not a file", {}),
    ("missing", r"file not found", {}),
    ("broken_link", r"broken symbolic link", {}),
    ("encrypted_eml", r"encrypted e-mail", {}),
    ("zip_bomb", r"archive inflates to 60\.0 MB, \d+ times its packed size.*", {}),
    ("empty_zip", r"empty archive \(no files in it\)", {}),
    ("bad_xml", r"invalid XML: .+", {}),
    ("fake_msg", r"could not parse \.msg file: .+", {}),
    ("fake_doc", r"not a legacy Office \.doc file \(no OLE2 header\)", {}),
]  # fmt: skip


@pytest.mark.usefixtures("unstructured_ready")
@pytest.mark.parametrize(("name", "reason", "overrides"), BAD_CASES)
def test_bad_input_gives_a_one_line_reason(
    bad: dict[str, Path], name: str, reason: str, overrides: dict[str, Any]
) -> None:
    with pytest.raises(LoaderError) as caught:
        load(bad[name], **overrides)
    message = str(caught.value)
    assert re.fullmatch(reason, message), message
    assert "\n" not in message


@pytest.mark.parametrize("suffix", [".md", ".csv", ".json", ".jsonl", ".html", ".rst"])
def test_binary_junk_under_a_text_name(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(random.Random(suffix).randbytes(2048))
    with pytest.raises(LoaderError, match=r"^binary content, not text$"):
        load(path)


def test_size_limits_come_from_settings(good: dict[str, Path]) -> None:
    with pytest.raises(LoaderError, match=r"^file is 0\.00031 MB, over the 0\.0001 MB limit$"):
        load(good["txt_utf8"], max_file_mb=0.0001)
    with pytest.raises(LoaderError, match=r"^archive inflates to 0\.\d+ MB, over the 0\.01 MB"):
        load(good["docx"], max_unzipped_mb=0.01)


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(LoaderError, match=r"^not a regular file$"):
        load(fifo)


def test_permission_denied(good: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(LoaderError, match=r"^permission denied$"):
        load(good["txt_utf8"])


@pytest.mark.usefixtures("unstructured_ready")
def test_unexpected_parser_errors_are_wrapped(
    good: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import unstructured.partition.docx

    def explode(**kwargs: object) -> None:
        raise RuntimeError("parser exploded\nwith a long traceback-like second line")

    monkeypatch.setattr(unstructured.partition.docx, "partition_docx", explode)
    with pytest.raises(LoaderError, match=r"^could not parse \.docx file: parser exploded$"):
        load(good["docx"])


def test_missing_spacy_model_is_reported_not_downloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(BackendUnavailable, match="en_core_web_sm"):
        prepare_unstructured.__wrapped__()
    assert os.environ["HF_HUB_OFFLINE"] == "1"


_FUZZ_SUFFIXES = sorted(SUPPORTED_SUFFIXES - {".pdf"})
_PREFIXES = [b"", b"PK\x03\x04", b"%PDF-1.7\n", b"{", b"<html>", b"\xef\xbb\xbf", b"# "]


@pytest.mark.slow
@pytest.mark.usefixtures("unstructured_ready")
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    suffix=st.sampled_from([*_FUZZ_SUFFIXES, ".pdf"]),
    prefix=st.sampled_from(_PREFIXES),
    body=st.binary(min_size=1, max_size=2000),
)
def test_random_bytes_never_escape_as_other_errors(
    tmp_path: Path, suffix: str, prefix: bytes, body: bytes
) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(prefix + body)
    try:
        loaded = load(path, pdf_ocr=False)
    except LoaderError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert loaded.elements and all(e.text.strip() for e in loaded.elements)
