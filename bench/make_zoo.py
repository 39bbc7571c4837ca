"""Build the file zoo for bench/file_zoo.py from unstructured's own example documents.

The zoo is ~120 real files of ~25 types, the traps included (password-protected, encrypted,
empty, text-less images), copied from the ``example-docs/`` folder of a clone of
https://github.com/Unstructured-IO/unstructured (a bare git directory or a work tree), plus one
``.tar.gz`` packed from two of them. Nothing is downloaded here and nothing is committed:

    git clone --depth 1 https://github.com/Unstructured-IO/unstructured /tmp/unstructured
    .venv/bin/python bench/make_zoo.py /tmp/unstructured /tmp/zoo

The probe phrases (text a reader sees in each file, including text visible only in images and
scanned pages) are written to ``<zoo>/.probes.json`` (hidden, so it is not ingested itself).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

# example-docs path -> a phrase a reader sees in it ("": none worth searching, e.g. a sheet of
# single letters; None: the file is meant to fail: encrypted, empty, or an image without text)
ZOO: dict[str, str | None] = {
    # PDF: digital, multi-page, tables, Korean, French; three scans without a text layer
    "pdf/DA-1p.pdf": "tracking the maleficar",
    "pdf/a1977-backus-p21.pdf": "controlling function for a functional form",
    "pdf/embedded-images-tables.pdf": "Potentiodynamic polarization data",
    "pdf/emphasis-text.pdf": "Now Italic and bold",
    "pdf/fake-memo.pdf": "20,000 bottles of water",
    "pdf/header-test-doc.pdf": "Here is a lovely sentences",
    "pdf/korean-text-with-tables.pdf": "빅포인트 적립",
    "pdf/layout-parser-paper-fast.pdf": "Deep Learning Based Document Image Analysis",
    "pdf/copy-protected.pdf": "Zejiang Shen",
    "pdf/list-item-example.pdf": "Introduction to Product Development and Quality Assurance",
    "pdf/multi-column-2p.pdf": "Dense Passage Retrieval for Open-Domain Question Answering",
    "pdf/pdf-with-ocr-text.pdf": "progress of the Foundation",
    "pdf/reliance.pdf": "Integrated Annual Report 2021-22",
    "pdf/interface-config-guide-p93.pdf": "Interface Configuration Guide",
    "pdf/negative-coords.pdf": "Comprehensive Carbon Footprint",
    "pdf/single_table.pdf": "mean chunks per document",
    "pdf/loremipsum-flat.pdf": "Nunc sollicitudin molestie consequat",
    "pdf/table-multi-row-column-cells.pdf": "Low Vision",
    "pdf/password.pdf": None,
    "language-docs/fr_olap.pdf": "interrogations de logs de requêtes OLAP",
    # Word, old and new; OpenDocument; RTF; EPUB
    "category-level.docx": "Call me Ishmael",
    "contains-pictures.docx": "An inline picture in the header",
    "docx-hdrftr.docx": "First header para",
    "docx-tables.docx": "Simple uniform table",
    "duplicate-paragraphs.docx": "This document contains duplicates",
    "fake-doc-emphasized-text.docx": "I am a bold italic bold-italic text",
    "handbook-1p.docx": "US Trustee Handbook",
    "page-breaks.docx": "Text on second page",
    "simple.docx": "These are a few of my favorite things",
    "tables-with-incomplete-rows.docx": "DOCX table where one or more rows is missing cells",
    "teams_chat.docx": "James Bond",
    "language-docs/eng_spa_mult.docx": "Todos los seres humanos nacen libres",
    "duplicate-paragraphs.doc": "This document contains duplicates",
    "fake-doc-emphasized-text.doc": "I am a bold italic bold-italic text",
    "fake.doc": "Lorem ipsum dolor sit amet",
    "simple.doc": "These are a few of my favorite things",
    "fake.odt": "Sarah Mark Ryan",
    "simple.odt": "These are a few of my favorite things",
    "language-docs/eng_spa_mult.odt": "Todos los seres humanos nacen libres",
    "fake-doc.rtf": "My First Heading",
    "winter-sports.epub": "Winter Sports in Switzerland",
    # PowerPoint, Excel
    "fake-power-point.pptx": "Find the bullet slide layout",
    "fake-power-point-table.pptx": "Tangerine Pink Aqua",
    "sample-presentation.pptx": "This is the first content slide",
    "simple.pptx": "Where have all the flowers gone",
    "group-shapes-nested.pptx": "",
    "fake-power-point.ppt": "Find the bullet slide layout",
    "language-docs/eng_spa_mult.ppt": "Todos los seres humanos nacen libres",
    "stanley-cups.xlsx": "Stanley Cups Since 67",
    "vodafone.xlsx": "Nine quarters to 30 June 2023",
    "emoji.xlsx": "",
    "more-than-1k-cells.xlsx": "",
    "2023-half-year-analyses-by-segment.xlsx": "Analyses by segment",
    "xlsx-subtable-cases.xlsx": "",
    "password_protected.xlsx": None,
    "tests-example.xls": "What C datatypes are 8 bits",
    # web and markup
    "example-10k-1p.html": "Galaxy Gaming",
    "example-steelJIS-datasheet.html": "SNB22-3 Chemical composition",
    "example-steelJIS-datasheet-utf-16.html": "SNB22-3 Chemical composition",
    "fake-html-cp1252.html": "Die schöne Frau hat einen Kaffee mit Kuchen gegessen",
    "fake-html.html": "if the cow comes home",
    "ideas-page.html": "The way to get new ideas is to notice anomalies",
    "example-with-scripts.html": "Russian Offensive Campaign Assessment",
    "fake-html-lang-de.html": "Jahresabschluss zum Geschäftsjahr",
    "fake-html-pre.htm": "UNITING AND STRENGTHENING AMERICA",
    "language-docs/eng_spa_mult.html": "Todos los seres humanos nacen libres",
    "README.md": "These documents can be used to test out the parsers",
    "codeblock.md": "This is a simple HTML example",
    "simple-table.md": "Juicy Apples",
    "umlauts-non-utf8.md": "können",
    "README.rst": "These documents can be used to test out the parsers",
    "README-w-include.rst": "You can parse this document using the HTML parser",
    "README.org": "These documents can be used to test out the parsers",
    "README-w-include.org": "You can parse this document using the HTML parser",
    "factbook.xml": "Justin Trudeau",
    "factbook-utf-16.xml": "Justin Trudeau",
    # plain text in many encodings; data files
    "fake-text.txt": "Hamburgers are delicious",
    "fake-text-utf-16.txt": "Hamburgers are delicious",
    "fake-text-utf-16-be.txt": "Hamburgers are delicious",
    "fake-text-utf-16-le.txt": "Hamburgers are delicious",
    "fake-text-utf-32.txt": "Hamburgers are delicious",
    "norwich-city.txt": "Iwan Roberts",
    "book-war-and-peace-1p.txt": "Genoa and Lucca are now just family estates",
    "language-docs/UDHR_first_article_all.txt": "Alle Menschen sind frei und gleich an Würde",
    "empty.txt": None,
    "fake-text-all-whitespace.txt": None,
    "stanley-cups.csv": "Maple Leafs",
    "stanley-cups-utf-16.csv": "Maple Leafs",
    "semicolon-delimited.csv": "tempor incididunt",
    "csv-with-long-lines.csv": "SpearmanCorrelationCoefficient",
    "stanley-cups.tsv": "Maple Leafs",
    "simple.json": "a06d2d9e65212d4aa955c3ab32950ffa",
    "simple.ndjson": "a06d2d9e65212d4aa955c3ab32950ffa",
    # e-mail
    "eml/fake-email.eml": "Roses are red",
    "eml/fake-email-attachment.eml": "Lots of whitespace",
    "eml/fake-email-utf-16-be.eml": "Roses are red",
    "eml/fake-email-utf-16-le.eml": "Roses are red",
    "eml/family-day.eml": "petting zoo, funnel cake",
    "eml/mime-different-plain-html.eml": "Ray Tomlinson in 1971",
    "eml/mime-html-only.eml": "Scott Fahlman in 1982",
    "eml/mime-word-encoded-subject.eml": "Unicode characters in the subject",
    "eml/email-no-utf8-2014-03-17.111517.eml": "Google Account password changed",
    "eml/fake-encrypted.eml": None,
    "eml/empty.eml": None,
    "fake-email.msg": "Roses are red",
    "fake-email-attachment.msg": "Lots of whitespace",
    "fake-email-with-cc-and-bcc.msg": "Fake email with cc and bcc recipients",
    "fake-encrypted.msg": None,
    # images (OCR): the probes are text visible in the picture; two have no text
    "img/DA-1p.png": "tracking the maleficar",
    "img/DA-1p.heic": "tracking the maleficar",
    "img/chi_sim_image.jpeg": "适合任何肌肤",
    "img/english-and-korean.png": "RULES AND INSTRUCTIONS",
    "img/layout-parser-paper-fast.jpg": "A Unified Toolkit for Deep Learning",
    "img/table-multi-row-column-cells.png": "Low Vision",
    "img/layout-parser-paper-fast.tiff": "A Unified Toolkit for Deep Learning",
    "img/bmp_24.bmp": None,
    "img/example.jpg": None,
    # archives: the members carry the probes (MEMBER_PROBES)
    "simple.zip": "",
}
MEMBER_PROBES = {
    "simple.zip!/ideas-page.html": "The way to get new ideas is to notice anomalies",
    "simple.zip!/stanley-cups.csv": "Maple Leafs",
    "archives/bundle.tar.gz!/fake-memo.pdf": "20,000 bottles of water",
    "archives/bundle.tar.gz!/mime-simple.eml": "This is a simple email message",
}
TAR_MEMBERS = {"pdf/fake-memo.pdf": "fake-memo.pdf", "eml/mime-simple.eml": "mime-simple.eml"}


def read(repo: Path, name: str) -> bytes:
    """A file of example-docs from a work tree, or from a bare git directory's HEAD."""
    path = repo / "example-docs" / name
    if path.is_file():
        return path.read_bytes()
    git_dir = repo if (repo / "HEAD").is_file() else repo / ".git"
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"HEAD:example-docs/{name}"],
        capture_output=True,
        check=True,
    ).stdout


def build(repo: Path, zoo: Path) -> int:
    if zoo.exists():
        shutil.rmtree(zoo)
    zoo.mkdir(parents=True)
    for name in ZOO:
        target = zoo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(read(repo, name))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for source, member in TAR_MEMBERS.items():
            data = read(repo, source)
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    (zoo / "archives").mkdir(exist_ok=True)
    (zoo / "archives" / "bundle.tar.gz").write_bytes(buffer.getvalue())
    probes = {name: phrase for name, phrase in ZOO.items() if phrase}
    probes.update(MEMBER_PROBES)
    expected_failures = sorted(name for name, phrase in ZOO.items() if phrase is None)
    (zoo / ".probes.json").write_text(
        json.dumps({"probes": probes, "expected_failures": expected_failures}, indent=1),
        encoding="utf-8",
    )
    return len(ZOO) + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="a clone of Unstructured-IO/unstructured")
    parser.add_argument("zoo", type=Path, help="the folder to (re)create")
    args = parser.parse_args()
    print(f"{build(args.repo, args.zoo)} files in {args.zoo}")


if __name__ == "__main__":
    main()
