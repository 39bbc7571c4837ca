"""Generate small real files of every supported type, and every kind of bad input.

Each ``make_*`` function writes into a directory and returns ``{name: path}``. The texts the
files contain are module constants, so tests can assert on them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

ENGLISH = (
    "Retrieval augmented generation combines a search index with a language model "
    "so that every answer can cite its sources."
)
CHINESE = "检索增强生成把搜索索引和语言模型结合起来，使每个回答都能够引用它的来源。"
MIXED = "The 向量数据库 stores embeddings, and 混合检索 combines BM25 with dense vectors."
FRENCH = "Le café de la gare était fermé à cause d'une grève; les élèves ont dû marcher à pied."
GERMAN = "Größere Übungen für Bären: Fußgänger müssen äußerst vorsichtig sein – „immer“ für 5 €."

PDF_PAGE1 = "Quarterly report introduction. The warehouse shipped twelve thousand parcels."
PDF_PAGE2 = "Second page findings. Customer satisfaction rose to ninety one percent."
OCR_TEXT = "SCANNED INVOICE NUMBER 4711"

MARKDOWN = """\
---
title: Front matter title
tags: [demo]
---

# Guide

Intro paragraph about the guide.

## Install

Run the installer first.

```python
# this is a comment, not a heading
print("hello")  # trailing
```

### Linux details

Use the package manager.

## 配置

中文段落：配置文件位于主目录。

| key | value |
|-----|-------|
| size | 200 |
| 语言 | 中文 |

- first item
- second item
  continues here

Setext Section
--------------

Text under setext.

# Appendix

Final words.
"""

RST = """\
User Manual
===========

The manual explains everything.

Getting started
---------------

Install the tool before use.

Advanced use
------------

Tune the settings carefully.
"""

HTML = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Handbook</title></head>
<body>
<h1>Handbook</h1>
<p>{ENGLISH}</p>
<h2>Chinese part</h2>
<p>{CHINESE}</p>
<h3>Mixed part</h3>
<p>{MIXED}</p>
<table>
<tr><th>city</th><th>population</th></tr>
<tr><td>Berlin</td><td>3700000</td></tr>
<tr><td>上海</td><td>24870000</td></tr>
</table>
<ul><li>alpha bullet point</li><li>beta bullet point</li></ul>
</body></html>
"""

CSV_ROWS = [
    ["name", "city", "score"],
    ["Alice", "Berlin", "91"],
    ["李雷", "上海", "88"],
    ["Bob", "Paris, France", "75"],
]

RECORDS: list[dict[str, int | str]] = [
    {"id": 1, "title": "first record", "body": ENGLISH},
    {"id": 2, "title": "第二条记录", "body": CHINESE},
    {"id": 3, "title": "third record", "body": MIXED},
]


def write(path: Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode(encoding)
    path.write_bytes(data)
    return path


# --- office and PDF documents ------------------------------------------------------------


def make_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    for heading, body in (("Introduction", PDF_PAGE1), ("Findings", PDF_PAGE2)):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 18)
        pdf.cell(0, 12, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 7, body)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF whose only page is a picture of text: no text layer."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1700, 400), 255)
    font = ImageFont.load_default(size=72)
    ImageDraw.Draw(image).text((60, 150), OCR_TEXT, fill=0, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    pdf = FPDF()
    pdf.add_page()
    pdf.image(buffer, x=10, y=20, w=190)
    pdf.output(str(path))
    return path


def make_blank_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.output(str(path))
    return path


def make_encrypted_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password="user-secret")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Top secret content")
    pdf.output(str(path))
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Project Overview", level=1)
    document.add_paragraph(ENGLISH)
    document.add_heading("Chinese Section", level=2)
    document.add_paragraph(CHINESE)
    document.add_heading("Mixed Details", level=3)
    document.add_paragraph(MIXED)
    document.add_heading("Results", level=1)
    document.add_paragraph("first bullet of results", style="List Bullet")
    document.add_paragraph("second bullet of results", style="List Bullet")
    table = document.add_table(rows=3, cols=2)
    for r, row in enumerate([("metric", "value"), ("recall", "0.93"), ("召回率", "九成")]):
        for c, cell in enumerate(row):
            table.cell(r, c).text = cell
    document.save(str(path))
    return path


def make_pptx(path: Path) -> Path:
    import pptx

    presentation = pptx.Presentation()
    layout = presentation.slide_layouts[1]
    for title, body in (("Roadmap 2025", ENGLISH), ("路线图", CHINESE)):
        slide = presentation.slides.add_slide(layout)
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    presentation.save(str(path))
    return path


def make_xlsx(path: Path) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "People"
    for row in CSV_ROWS:
        sheet.append(row)
    second = workbook.create_sheet("城市")
    second.append(["城市", "人口"])
    second.append(["北京", 21890000])
    second.append(["Hamburg", 1850000])
    workbook.save(str(path))
    return path


def make_eml(path: Path) -> Path:
    message = EmailMessage()
    message["Subject"] = "Quarterly numbers"
    message["From"] = "alice@example.com"
    message["To"] = "bob@example.com"
    message.set_content(f"Hello Bob,\n\n{ENGLISH}\n\n{CHINESE}\n\nRegards, Alice\n")
    return write(path, message.as_bytes())


def _pandoc(markdown: str, to: str, path: Path) -> Path | None:
    try:
        import pypandoc

        pypandoc.convert_text(markdown, to, format="md", outputfile=str(path))
    except Exception:  # pandoc missing: the caller's test skips
        return None
    return path


RTF = (
    r"{\rtf1\ansi\deff0{\fonttbl{\f0 Times New Roman;}}"
    r"{\pard\b Release Notes\b0\par}"
    r"{\pard The new release improves retrieval quality considerably.\par}}"
)

PANDOC_MD = "# Release Notes\n\nThe new release improves retrieval quality considerably.\n"


# --- plain text, markup and data files ----------------------------------------------------


def make_text_files(directory: Path) -> dict[str, Path]:
    files = {
        "txt_utf8": write(directory / "utf8.txt", f"{ENGLISH}\r\n\r\n{CHINESE}\r\n\r\n{MIXED}\r\n"),
        "txt_utf16": write(directory / "utf16.txt", f"{CHINESE}\n\n{MIXED}\n", "utf-16"),
        "txt_gb18030": write(directory / "gb18030.txt", f"{CHINESE}\n\n{CHINESE}\n", "gb18030"),
        "txt_latin1": write(directory / "latin1.txt", f"{FRENCH}\n\n{FRENCH}\n", "latin-1"),
        "txt_cp1252": write(directory / "cp1252.txt", f"{GERMAN}\n", "cp1252"),
        "md": write(directory / "guide.md", MARKDOWN),
        "rst": write(directory / "manual.rst", RST),
        "log": write(directory / "server.log", "INFO start\nWARN disk 91% full\n"),
        "html": write(directory / "handbook.html", HTML),
        "json": write(
            directory / "records.json", json.dumps(RECORDS, ensure_ascii=False, indent=1)
        ),
        "jsonl": write(
            directory / "records.jsonl",
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS),
        ),
    }
    buffer = io.StringIO()
    csv.writer(buffer).writerows(CSV_ROWS)
    files["csv"] = write(directory / "scores.csv", buffer.getvalue())
    return files


def make_good_files(directory: Path) -> dict[str, Path]:
    """Every supported format; ``pdf_scanned`` is a PDF without a text layer."""
    directory.mkdir(parents=True, exist_ok=True)
    files = make_text_files(directory)
    makers: dict[str, tuple[str, Callable[[Path], Path]]] = {
        "pdf": ("report.pdf", make_pdf),
        "pdf_scanned": ("scanned.pdf", make_scanned_pdf),
        "docx": ("overview.docx", make_docx),
        "pptx": ("roadmap.pptx", make_pptx),
        "xlsx": ("people.xlsx", make_xlsx),
        "eml": ("mail.eml", make_eml),
    }
    for name, (filename, maker) in makers.items():
        files[name] = maker(directory / filename)
    files["rtf"] = write(directory / "notes.rtf", RTF)
    for suffix in ("odt", "epub"):
        made = _pandoc(PANDOC_MD, suffix, directory / f"notes.{suffix}")
        if made is not None:
            files[suffix] = made
    return files


# --- bad input -----------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _encrypt_office(source: Path, target: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    with source.open("rb") as plain, target.open("wb") as encrypted:
        OOXMLFile(plain).encrypt("secret", encrypted)
    return target


def make_bad_files(directory: Path) -> dict[str, Path]:
    """One file (or path) per kind of bad input."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1234)
    pdf = make_pdf(directory / "source.pdf").read_bytes()
    files = {
        "empty": write(directory / "empty.txt", b""),
        "blank_text": write(directory / "blank.txt", "  \n\n\t\n"),
        "binary_txt": write(directory / "junk.txt", rng.randbytes(4096)),
        "control_txt": write(directory / "controls.txt", bytes(range(1, 32)) * 40),
        "truncated_pdf": write(directory / "truncated.pdf", pdf[: len(pdf) // 3]),
        "junk_pdf": write(directory / "junk.pdf", b"%PDF-1.7\n" + rng.randbytes(3000)),
        "text_as_pdf": write(directory / "letter.pdf", "Dear Sir, this is not a PDF."),
        "blank_pdf": make_blank_pdf(directory / "blank.pdf"),
        "encrypted_pdf": make_encrypted_pdf(directory / "encrypted.pdf"),
        "text_as_docx": write(directory / "fake.docx", "just some words, not a zip"),
        "ole_docx": write(
            directory / "legacy.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2040)
        ),
        "zip_no_docx": _zip(directory / "other.docx", {"hello.txt": b"not a document"}),
        "unsupported": write(directory / "data.xyz", "some data"),
        "no_suffix": write(directory / "README", "some data"),
        "bad_json": write(directory / "bad.json", '{"a": 1,,}'),
        "bad_jsonl": write(directory / "bad.jsonl", '{"a": 1}\n{"b": 2}\n{"c": \n'),
        "empty_json": write(directory / "empty.json", "[]"),
        "tags_only_html": write(directory / "tags.html", "<html><body><div></div></body></html>"),
        "encrypted_eml": write(
            directory / "locked.eml",
            "Subject: s\nMIME-Version: 1.0\nContent-Type: application/pkcs7-mime; "
            "smime-type=enveloped-data\n\nMIAGCSqGSIb3DQEHA6CAMIACAQ\n",
        ),
        "empty_zip": _zip(directory / "nothing.zip", {".hidden": b"x"}),
        "bad_xml": write(directory / "bad.xml", "<a><b></a>"),
        "fake_msg": write(directory / "fake.msg", "not an Outlook message"),
        "fake_doc": write(directory / "fake.doc", random.Random(5).randbytes(3000)),
        "dir": directory / "folder.txt",
        "missing": directory / "missing.txt",
        "broken_link": directory / "dangling.txt",
    }
    files["dir"].mkdir(exist_ok=True)
    if not files["broken_link"].is_symlink():
        os.symlink(directory / "nowhere.txt", files["broken_link"])
    # A sparse file: over the 100 MB default limit without using disk space.
    big = directory / "huge.txt"
    with big.open("wb") as handle:
        handle.truncate(101 * 1024 * 1024)
    files["huge"] = big
    # Zip bombs: many megabytes of zeros compress to almost nothing.
    zeros = bytes(60 * 1024 * 1024)
    files["zip_bomb_docx"] = _zip(
        directory / "bomb.docx",
        {"[Content_Types].xml": b"<Types/>", "word/document.xml": zeros},
    )
    files["zip_bomb_xlsx"] = _zip(
        directory / "bomb.xlsx", {"[Content_Types].xml": b"<Types/>", "xl/a.xml": zeros}
    )
    files["zip_bomb"] = _zip(directory / "bomb.zip", {"zeros.bin": zeros})
    good = directory / "good"
    good.mkdir(exist_ok=True)
    files["encrypted_docx"] = _encrypt_office(
        make_docx(good / "plain.docx"), directory / "locked.docx"
    )
    files["encrypted_xlsx"] = _encrypt_office(
        make_xlsx(good / "plain.xlsx"), directory / "locked.xlsx"
    )
    return files
