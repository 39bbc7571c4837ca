"""load_file on the formats added for "every file a user drops in": images and scanned pages
(OCR), legacy Office (LibreOffice), XML, Org-mode, RST includes, e-mail attachments, UTF-16
without a byte-order mark, hidden HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ragline.ingest.elements import TITLE
from ragline.ingest.loaders import format_suffix, is_supported
from ragline.ingest.loaders import pdf as pdf_loader
from ragline.ingest.loaders.ocr import tesseract_available
from ragline.retrieval.errors import LoaderError
from tests.ingest import make_files as mf
from tests.ingest import make_more_files as mm
from tests.ingest.loading import all_text, first, load
from tests.ingest.outlook import write_msg

needs_tesseract = pytest.mark.skipif(not tesseract_available(), reason="tesseract is not installed")


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text).split()).upper()


def test_new_suffixes_are_supported() -> None:
    for name in ("a.png", "b.JPG", "c.heic", "d.doc", "e.ppt", "f.xls", "g.msg", "h.xml"):
        assert is_supported(name), name
    for name in ("i.org", "j.zip", "k.tar.gz", "l.tgz", "m.tar", "n.tiff", "o.odp", "p.ods"):
        assert is_supported(name), name
    assert format_suffix("Backup.TAR.GZ") == ".tar.gz" and format_suffix("x.gz") == ".gz"
    assert not is_supported("x.gz") and not is_supported("setup.exe")


# --- OCR --------------------------------------------------------------------------------------


@needs_tesseract
@pytest.mark.usefixtures("unstructured_ready")
@pytest.mark.parametrize("suffix", ["png", "jpg", "bmp", "tiff", "gif", "webp"])
def test_images_are_read_by_ocr(more: dict[str, Path], suffix: str) -> None:
    loaded = load(more[f"image_{suffix}"])
    assert loaded.mime_type.startswith("image/")
    assert mm.IMAGE_TEXT in words(all_text(loaded))
    assert all(e.ocr and e.page == 1 for e in loaded.elements)


@needs_tesseract
@pytest.mark.usefixtures("unstructured_ready")
def test_heic_is_decoded_and_read(more: dict[str, Path]) -> None:
    assert mm.HEIC_TEXT in words(all_text(load(more["heic"])))


@needs_tesseract
@pytest.mark.usefixtures("unstructured_ready")
def test_an_image_without_text_is_no_text_found(more: dict[str, Path]) -> None:
    with pytest.raises(LoaderError, match=r"^no text found in the image \(OCR\)$"):
        load(more["image_blank"])


def test_images_when_ocr_is_off_or_impossible(
    more: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LoaderError, match=r"^image not read: OCR of images is off"):
        load(more["image_png"], image_ocr=False)
    monkeypatch.setattr("ragline.ingest.loaders.image.tesseract_available", lambda: False)
    with pytest.raises(LoaderError, match=r"^cannot read images here: install tesseract-ocr"):
        load(more["image_png"])


def test_a_broken_image_is_refused_before_ocr(tmp_path: Path) -> None:
    path = mf.write(tmp_path / "broken.png", b"\x89PNG\r\n\x1a\n" + bytes(200))
    with pytest.raises(LoaderError, match=r"^not a readable image: "):
        load(path)


@needs_tesseract
@pytest.mark.slow
@pytest.mark.usefixtures("unstructured_ready")
def test_a_scanned_page_in_a_digital_pdf_is_ocred(more: dict[str, Path]) -> None:
    if not pdf_loader.ocr_available():
        pytest.skip("pdftoppm is not installed")
    loaded = load(more["pdf_mixed"])
    assert first(loaded, "digital first page").page == 1
    assert not first(loaded, "digital first page").ocr
    scanned = [e for e in loaded.elements if e.page == 2]
    assert scanned and all(e.ocr for e in scanned)
    assert mm.SCANNED_PAGE_TEXT in words(" ".join(e.text for e in scanned))
    assert mm.SCANNED_PAGE_TEXT not in words(all_text(load(more["pdf_mixed"], pdf_ocr=False)))


@needs_tesseract
def test_ocr_languages_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from ragline.ingest.loaders import ocr
    from ragline.ingest.settings import IngestSettings

    monkeypatch.setattr(ocr, "installed_languages", lambda: frozenset({"eng", "kor"}))
    assert ocr.ocr_languages(IngestSettings(ocr_languages=["kor", "eng", "xyz"])) == ["kor", "eng"]
    assert ocr.ocr_languages(IngestSettings(ocr_languages=["xyz"])) == ["eng"]


# --- legacy Office through LibreOffice --------------------------------------------------------


@pytest.mark.usefixtures("unstructured_ready")
def test_doc_ppt_xls(legacy: dict[str, Path]) -> None:
    doc = load(legacy["doc"])
    assert doc.mime_type in ("application/msword", "application/x-ole-storage")
    assert first(doc, mf.CHINESE).heading == ("Project Overview", "Chinese Section")
    assert first(doc, "first bullet").heading == ("Results",)
    ppt = load(legacy["ppt"])
    assert first(ppt, mf.CHINESE).page == 2
    xls = load(legacy["xls"])
    assert "Alice | Berlin | 91" in all_text(xls)


@pytest.mark.usefixtures("unstructured_ready")
def test_libreoffice_timeout_and_absence(
    legacy: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LoaderError, match=r"^LibreOffice conversion took longer than 0.05 s$"):
        load(legacy["doc"], office_timeout_s=0.05)
    monkeypatch.setenv("PATH", str(tmp_path))  # no soffice on the PATH
    with pytest.raises(LoaderError, match=r"^cannot read \.ppt files here: install LibreOffice"):
        load(legacy["ppt"])


def test_a_hanging_converter_is_killed_with_its_children(
    good: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "soffice"
    fake.parent.mkdir()
    marker = tmp_path / "child.pid"
    fake.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {marker}\nwait\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    doc = mf.write(tmp_path / "old.doc", good["docx"].read_bytes())
    with pytest.raises(LoaderError, match=r"^LibreOffice conversion took longer than 1 s$"):
        load(doc, office_timeout_s=1)
    child = int(marker.read_text())
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text()


# --- markup -------------------------------------------------------------------------------------


def test_xml_text_nodes_in_order(more: dict[str, Path]) -> None:
    for name in ("xml", "xml_utf16", "xml_utf16_no_bom"):
        texts = [e.text for e in load(more[name]).elements]
        assert texts == [
            "Ragline Handbook",
            "Hybrid search combines keyword and dense retrieval.",
            "Второе издание",
            "39.90",
        ], name


def test_xml_guards(more: dict[str, Path]) -> None:
    assert all_text(load(more["xml_laughs"])) == "Only this sentence is text."
    with pytest.raises(LoaderError, match=r"^invalid XML: "):
        load(more["xml_broken"])
    with pytest.raises(LoaderError, match=r"^XML file is 0\.\d+ MB, over the 0\.0001 MB limit"):
        load(more["xml"], max_xml_mb=0.0001)


@pytest.mark.usefixtures("unstructured_ready")
def test_org_mode_never_includes_other_files(more: dict[str, Path]) -> None:
    loaded = load(more["org"])
    assert first(loaded, "Water the tomatoes").heading == ("Tomatoes",)
    assert first(loaded, "Aphids").heading == ("Tomatoes", "Pests")
    assert mm.SECRET not in all_text(loaded) and "INCLUDE" not in all_text(loaded)


def test_rst_include_is_never_followed(more: dict[str, Path]) -> None:
    text = all_text(load(more["rst"]))
    assert "Owls hunt at night" in text
    assert mm.SECRET not in text and "include::" not in text


def test_utf16_without_bom(more: dict[str, Path]) -> None:
    assert all_text(load(more["txt_utf16_be"])) == mf.ENGLISH


@pytest.mark.usefixtures("unstructured_ready")
def test_hidden_html_and_invisible_characters_are_not_ingested(more: dict[str, Path]) -> None:
    text = all_text(load(more["html_hidden"]))
    assert "The library opens at nine." in text
    assert not any(hidden in text for hidden in mm.HIDDEN)
    assert "Zerowidth and bidi and tag characters vanish." in text


# --- e-mail -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("unstructured_ready")
def test_email_attachments_are_members_only_when_asked(tmp_path: Path) -> None:
    html = mm.HIDDEN_HTML.format(**{f"hidden{i + 1}": h for i, h in enumerate(mm.HIDDEN)})
    attachments = {"minutes.txt": b"Minutes: the budget was approved.", "a/b.md": b"# Plan\n\nDig."}
    mail = mm.make_email(tmp_path / "visit.eml", attachments, html)
    plain = load(mail)
    assert plain.elements[0].text == "Site visit report" and plain.elements[0].type == TITLE
    assert first(plain, "library opens").heading[0] == "Site visit report"
    assert not any(hidden in all_text(plain) for hidden in mm.HIDDEN)
    assert plain.members == ()
    loaded = load(mail, email_attachments=True)
    members = {m.name: m for m in loaded.members}
    assert set(members) == {"minutes.txt", "a_b.md"}
    assert members["minutes.txt"].elements[0].text == "Minutes: the budget was approved."
    assert members["minutes.txt"].content_hash and members["a_b.md"].error is None


def test_encrypted_email_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match=r"^encrypted e-mail$"):
        load(mm.make_encrypted_email(tmp_path / "secret.eml"))


def test_email_in_utf16_without_bom(tmp_path: Path) -> None:
    raw = mm.make_email(tmp_path / "a.eml", {}).read_text()
    mail = mf.write(tmp_path / "be.eml", raw.encode("utf-16-be"))
    assert "The site visit went well." in all_text(load(mail))


@pytest.mark.usefixtures("unstructured_ready")
def test_outlook_msg_with_attachments(tmp_path: Path) -> None:
    html = mm.HIDDEN_HTML.format(**{f"hidden{i + 1}": h for i, h in enumerate(mm.HIDDEN)})
    msg = write_msg(
        tmp_path / "plan.msg",
        "Quarterly plan",
        "Hello team,\r\n\r\nThe plan is attached.\r\n",
        html=html,
        attachments={"plan.txt": b"Plan: hire two engineers.", "data.bin": bytes(range(256)) * 20},
    )
    plain = load(msg)
    assert plain.mime_type in ("application/vnd.ms-outlook", "application/x-ole-storage")
    assert plain.elements[0].text == "Quarterly plan" and plain.members == ()
    assert first(plain, "library opens").heading[0] == "Quarterly plan"  # the HTML body
    assert not any(hidden in all_text(plain) for hidden in mm.HIDDEN)
    members = {m.name: m for m in load(msg, email_attachments=True).members}
    assert members["plan.txt"].elements[0].text == "Plan: hire two engineers."
    assert members["data.bin"].error == "unsupported file type .bin"
    text_only = write_msg(tmp_path / "t.msg", "Note", "Just text.\r\n\r\nSecond line.")
    assert [e.text for e in load(text_only).elements] == ["Note", "Just text.", "Second line."]


def test_encrypted_msg_is_refused(tmp_path: Path) -> None:
    msg = write_msg(
        tmp_path / "locked.msg",
        "",
        "",
        headers='Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"\r\n',
    )
    with pytest.raises(LoaderError, match=r"^encrypted e-mail$"):
        load(msg)
