"""load_file on real generated files of every supported type, and on every kind of bad input."""

from __future__ import annotations

import csv
import io
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from ingest.elements import LIST_ITEM, TABLE, TEXT, TITLE, Element
from ingest.loaders import SUPPORTED_SUFFIXES, LoadedFile, is_supported, load_file, preload
from ingest.loaders import pdf as pdf_loader
from ingest.loaders.partition import prepare_unstructured
from retrieval.errors import BackendUnavailable, LoaderError
from retrieval.settings import IngestSettings
from tests.ingest import make_files as mf


@pytest.fixture(scope="session")
def unstructured_ready() -> None:
    """Import unstructured and its spaCy model once for the whole session (several seconds)."""
    preload()


@pytest.fixture(scope="session")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return mf.make_good_files(tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="session")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return mf.make_bad_files(tmp_path_factory.mktemp("bad"))


def load(path: Path, **overrides: Any) -> LoadedFile:
    return load_file(path, IngestSettings(**overrides))


def all_text(loaded: LoadedFile) -> str:
    return "\n".join(element.text for element in loaded.elements)


def first(loaded: LoadedFile, text: str) -> Element:
    return next(e for e in loaded.elements if text in e.text)


def test_supported_suffixes() -> None:
    expected = {".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".html", ".htm", ".md", ".markdown"}
    expected |= {".txt", ".rst", ".log", ".eml", ".json", ".jsonl", ".epub", ".rtf", ".odt"}
    assert expected <= SUPPORTED_SUFFIXES
    assert all(suffix.startswith(".") and suffix == suffix.lower() for suffix in SUPPORTED_SUFFIXES)
    assert is_supported(Path("Report.PDF")) and is_supported("notes.md")
    assert not is_supported("archive.zip") and not is_supported("README")


# --- the fast path ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "paragraphs"),
    [
        ("txt_utf8", [mf.ENGLISH, mf.CHINESE, mf.MIXED]),
        ("txt_utf16", [mf.CHINESE, mf.MIXED]),
        ("txt_gb18030", [mf.CHINESE, mf.CHINESE]),
        ("txt_latin1", [mf.FRENCH, mf.FRENCH]),
        ("txt_cp1252", [mf.GERMAN]),
    ],
)
def test_text_in_every_encoding(good: dict[str, Path], name: str, paragraphs: list[str]) -> None:
    loaded = load(good[name])
    assert loaded.mime_type == "text/plain"
    assert loaded.elements == tuple(Element(p, TEXT) for p in paragraphs)


def test_markdown_and_rst_and_log(good: dict[str, Path]) -> None:
    md = load(good["md"])
    assert md.mime_type == "text/markdown"
    assert first(md, "package manager").heading == ("Guide", "Install", "Linux details")
    assert {e.type for e in md.elements} >= {TITLE, TEXT, TABLE, LIST_ITEM, "CodeSnippet"}
    rst = load(good["rst"])
    assert first(rst, "Tune the settings").heading == ("User Manual", "Advanced use")
    assert all_text(load(good["log"])) == "INFO start\nWARN disk 91% full"


def test_json_one_element_per_record(good: dict[str, Path], tmp_path: Path) -> None:
    loaded = load(good["json"])
    assert loaded.mime_type == "application/json"
    assert len(loaded.elements) == 3
    assert mf.CHINESE in loaded.elements[1].text and "第二条记录" in loaded.elements[1].text
    obj = tmp_path / "obj.json"
    obj.write_text('{"alpha": {"x": 1}, "beta": "plain words", "empty": ""}', encoding="utf-8")
    texts = [e.text for e in load(obj).elements]
    assert texts == ['{\n  "alpha": {\n    "x": 1\n  }\n}', '{\n  "beta": "plain words"\n}',
                     '{\n  "empty": ""\n}']  # fmt: skip


def test_jsonl_one_element_per_line(good: dict[str, Path], tmp_path: Path) -> None:
    loaded = load(good["jsonl"])
    assert len(loaded.elements) == 3
    for record, element in zip(mf.RECORDS, loaded.elements, strict=True):
        assert str(record["title"]) in element.text
    lines = tmp_path / "strings.jsonl"
    lines.write_text('"first line"\n\n"第二行"\n', encoding="utf-8")
    assert [e.text for e in load(lines).elements] == ["first line", "第二行"]


def test_csv_is_one_table_with_rows_as_lines(good: dict[str, Path]) -> None:
    loaded = load(good["csv"])
    assert loaded.mime_type == "text/csv"
    (table,) = loaded.elements
    assert table.type == TABLE
    assert table.text.split("\n") == [" | ".join(row) for row in mf.CSV_ROWS]


def test_csv_dialects_encodings_and_cells(tmp_path: Path) -> None:
    semicolons = tmp_path / "eu.csv"
    semicolons.write_bytes("Name;Stadt;Postleitzahl\nJürgen;Köln;01067\n".encode("cp1252"))
    assert all_text(load(semicolons)) == "Name | Stadt | Postleitzahl\nJürgen | Köln | 01067"
    chinese = tmp_path / "cn.csv"
    chinese.write_bytes("城市,人口\n北京,2189万\n上海,2487万\n".encode("gb18030"))
    assert all_text(load(chinese)) == "城市 | 人口\n北京 | 2189万\n上海 | 2487万"
    buffer = io.StringIO()
    csv.writer(buffer).writerows([["id", "note"], ["1", "two\nlines"], ["", ""], ["2", "ok"]])
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(buffer.getvalue(), encoding="utf-8")
    assert all_text(load(quoted)) == "id | note\n1 | two lines\n2 | ok"
    tsv = tmp_path / "data.tsv"
    tsv.write_text("a\tb\n1\t2\n", encoding="utf-8")
    assert all_text(load(tsv)) == "a | b\n1 | 2"


# --- through unstructured -----------------------------------------------------------------


@pytest.mark.usefixtures("unstructured_ready")
def test_html_headings_tables_lists(good: dict[str, Path]) -> None:
    loaded = load(good["html"])
    assert loaded.mime_type == "text/html"
    assert first(loaded, "Handbook").type == TITLE
    assert first(loaded, mf.ENGLISH[:40]).heading == ("Handbook",)
    assert first(loaded, mf.CHINESE).heading == ("Handbook", "Chinese part")
    assert first(loaded, mf.MIXED).heading == ("Handbook", "Chinese part", "Mixed part")
    table = first(loaded, "population")
    assert table.type == TABLE
    assert table.text == "city | population\nBerlin | 3700000\n上海 | 24870000"
    assert first(loaded, "alpha bullet").type == LIST_ITEM


@pytest.mark.usefixtures("unstructured_ready")
def test_html_in_a_legacy_encoding(tmp_path: Path) -> None:
    path = tmp_path / "gbk.html"
    path.write_bytes(f"<html><body><h1>标题</h1><p>{mf.CHINESE}</p></body></html>".encode("gbk"))
    loaded = load(path)
    assert first(loaded, mf.CHINESE).heading == ("标题",)


@pytest.mark.usefixtures("unstructured_ready")
def test_docx_headings_lists_and_tables(good: dict[str, Path]) -> None:
    loaded = load(good["docx"])
    assert loaded.mime_type.endswith("wordprocessingml.document")
    assert first(loaded, "Project Overview").heading == ("Project Overview",)
    assert first(loaded, mf.ENGLISH[:40]).heading == ("Project Overview",)
    assert first(loaded, mf.CHINESE).heading == ("Project Overview", "Chinese Section")
    assert first(loaded, mf.MIXED).heading == (
        "Project Overview",
        "Chinese Section",
        "Mixed Details",
    )
    assert first(loaded, "first bullet").type == LIST_ITEM
    assert first(loaded, "first bullet").heading == ("Results",)
    table = first(loaded, "recall")
    assert table.type == TABLE
    assert table.text == "metric | value\nrecall | 0.93\n召回率 | 九成"


@pytest.mark.usefixtures("unstructured_ready")
def test_pptx_slides_are_pages(good: dict[str, Path]) -> None:
    loaded = load(good["pptx"])
    assert loaded.mime_type.endswith("presentationml.presentation")
    assert (first(loaded, "Roadmap 2025").type, first(loaded, "Roadmap 2025").page) == (TITLE, 1)
    assert first(loaded, mf.ENGLISH[:40]).page == 1
    chinese = first(loaded, mf.CHINESE)
    assert (chinese.page, chinese.heading) == (2, ("路线图",))
    assert chinese.type == TEXT  # a sentence, not a title, whatever the heuristics said


@pytest.mark.usefixtures("unstructured_ready")
def test_xlsx_sheets_are_pages_with_rows_as_lines(good: dict[str, Path]) -> None:
    loaded = load(good["xlsx"])
    assert loaded.mime_type.endswith("spreadsheetml.sheet")
    people, cities = (e for e in loaded.elements if e.type == TABLE)
    assert (people.page, people.heading) == (1, ("People",))
    assert people.text.split("\n") == [" | ".join(row) for row in mf.CSV_ROWS]
    assert (cities.page, cities.heading) == (2, ("城市",))
    assert "北京 | 21890000" in cities.text.split("\n")


@pytest.mark.usefixtures("unstructured_ready")
def test_pdf_text_and_pages(good: dict[str, Path]) -> None:
    loaded = load(good["pdf"])
    assert loaded.mime_type == "application/pdf"
    assert first(loaded, mf.PDF_PAGE1).page == 1
    assert first(loaded, mf.PDF_PAGE2).page == 2
    assert first(loaded, "Findings").page == 2


@pytest.mark.usefixtures("unstructured_ready")
def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-only")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Readable although encrypted for editing")
    pdf.output(str(tmp_path / "owner.pdf"))
    assert "Readable although" in all_text(load(tmp_path / "owner.pdf"))


@pytest.mark.usefixtures("unstructured_ready")
def test_email_subject_heads_the_body(good: dict[str, Path]) -> None:
    loaded = load(good["eml"])
    assert loaded.mime_type == "message/rfc822"
    assert loaded.elements[0] == Element("Quarterly numbers", TITLE, heading=("Quarterly numbers",))
    assert first(loaded, mf.ENGLISH[:40]).heading == ("Quarterly numbers",)
    assert mf.CHINESE in all_text(loaded)


@pytest.mark.usefixtures("unstructured_ready")
@pytest.mark.parametrize("name", ["rtf", "odt", "epub"])
def test_rtf_odt_epub(good: dict[str, Path], name: str) -> None:
    if name not in good:
        pytest.skip(f"pandoc could not write a .{name} file here")
    text = all_text(load(good[name]))
    assert "Release Notes" in text
    assert "improves retrieval quality" in text


@pytest.mark.slow
@pytest.mark.usefixtures("unstructured_ready")
def test_scanned_pdf_is_ocred(good: dict[str, Path]) -> None:
    if not pdf_loader.ocr_available():
        pytest.skip("tesseract or pdftoppm is not installed")
    loaded = load(good["pdf_scanned"])
    assert mf.OCR_TEXT in all_text(loaded)
    assert {e.page for e in loaded.elements} == {1}


@pytest.mark.slow
@pytest.mark.usefixtures("unstructured_ready")
def test_blank_pdf_has_no_text_even_after_ocr(bad: dict[str, Path]) -> None:
    if not pdf_loader.ocr_available():
        pytest.skip("tesseract or pdftoppm is not installed")
    with pytest.raises(LoaderError, match=r"^no text found, not even by OCR$"):
        load(bad["blank_pdf"])


@pytest.mark.usefixtures("unstructured_ready")
def test_pdf_without_text_layer_when_ocr_is_impossible(
    good: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LoaderError, match=r"^no text found \(.*OCR is off\)$"):
        load(good["pdf_scanned"], pdf_ocr=False)
    monkeypatch.setattr(pdf_loader, "ocr_available", lambda: False)
    with pytest.raises(LoaderError, match=r"^no text found \(.*install tesseract-ocr"):
        load(good["pdf_scanned"])


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
