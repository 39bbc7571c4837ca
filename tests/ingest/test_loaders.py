"""load_file on real generated files of every supported type, and on every kind of bad input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ragline.ingest.elements import LIST_ITEM, TABLE, TEXT, TITLE, Element
from ragline.ingest.loaders import SUPPORTED_SUFFIXES, is_supported
from ragline.ingest.loaders import pdf as pdf_loader
from ragline.retrieval.errors import LoaderError
from tests.ingest import make_files as mf
from tests.ingest.loading import all_text, first, load


def test_supported_suffixes() -> None:
    expected = {".pdf", ".docx", ".pptx", ".xlsx", ".csv", ".html", ".htm", ".md", ".markdown"}
    expected |= {".txt", ".rst", ".log", ".eml", ".json", ".jsonl", ".epub", ".rtf", ".odt"}
    assert expected <= SUPPORTED_SUFFIXES
    assert all(suffix.startswith(".") and suffix == suffix.lower() for suffix in SUPPORTED_SUFFIXES)
    assert is_supported(Path("Report.PDF")) and is_supported("notes.md")
    assert not is_supported("setup.exe") and not is_supported("README")


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
    assert all(e.ocr for e in loaded.elements)


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
