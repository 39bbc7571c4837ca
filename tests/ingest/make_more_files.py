"""Generate small real files of the formats added for "every file a user drops in": images
with and without text, legacy Office files (by LibreOffice), XML, Org-mode, RST, e-mail with
attachments, archives, and the traps (bombs, deep nesting, hidden text).

Texts are module constants so tests can assert on them; tools that are missing make the
makers return None and the tests that need them skip.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import zipfile
from email.message import EmailMessage
from pathlib import Path

from tests.ingest.make_files import ENGLISH, make_docx, make_pptx, make_xlsx, write

FILES = Path(__file__).parent / "files"
IMAGE_TEXT = "INVOICE NUMBER 4711 PAID"
HEIC_TEXT = "HEIC PHOTO OF RECEIPT 2291"
SCANNED_PAGE_TEXT = "SCANNED APPENDIX PAGE 77"
TEXT_PAGE = "The digital first page of the report talks about quarterly revenue."
SECRET = "TOP SECRET TEXT FROM OUTSIDE THE TREE"
XML = """<?xml version="1.0" encoding="{encoding}"?>
<!-- a comment is not text -->
<catalog>
  <book id="b1" lang="en"><title>Ragline Handbook</title>
    <p>Hybrid search <b>combines</b> keyword and dense retrieval.</p></book>
  <book id="b2"><title>Второе издание</title><price>39.90</price></book>
</catalog>
"""
BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
]>
<doc><p>Only this sentence is text.</p><p>&lol5;</p></doc>
"""
ORG = """#+TITLE: Garden notes
#+INCLUDE: "{secret}"

* Tomatoes
Water the tomatoes every morning in July.
** Pests
Aphids hide under the leaves.
"""
RST = """Field guide
===========

.. include:: {secret}

Owls hunt at night and sleep during the day.
"""
HIDDEN_HTML = """<html><head><style>.sr-only {{ display: none }}</style></head><body>
<h1>Public notice</h1>
<p>The library opens at nine.</p>
<p style="display:none">{hidden1}</p>
<div hidden>{hidden2}</div>
<span aria-hidden="true">{hidden3}</span>
<p class="sr-only">{hidden4}</p>
<p>Zero\u200bwidth and\u202e bidi and tag\U000e0041\U000e0042 characters vanish.</p>
</body></html>
"""
HIDDEN = ("hidden alpha", "hidden bravo", "hidden charlie", "hidden delta")


# --- images -------------------------------------------------------------------------------


def make_image(
    path: Path, text: str | None = IMAGE_TEXT, size: tuple[int, int] = (1400, 260)
) -> Path:
    """A picture with ``text`` in large black letters (None: a text-less gradient photo)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    if text is None:
        for x in range(size[0]):
            draw.line([(x, 0), (x, size[1])], fill=(x % 256, 120, 255 - x % 256))
    else:
        draw.text((40, 90), text, fill="black", font=ImageFont.load_default(size=72))
    image.save(path)
    return path


def make_mixed_pdf(path: Path) -> Path:
    """Page 1 has a text layer; page 2 is only a picture of text (a scanned page)."""
    from fpdf import FPDF

    make_image(path.with_suffix(".png"), SCANNED_PAGE_TEXT, (1700, 300))
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, TEXT_PAGE)
    pdf.add_page()
    pdf.image(str(path.with_suffix(".png")), x=10, y=20, w=190)
    pdf.output(str(path))
    path.with_suffix(".png").unlink()
    return path


# --- legacy Office (LibreOffice writes them) ----------------------------------------------


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def make_legacy_office(directory: Path) -> dict[str, Path]:
    """``doc``, ``ppt``, ``xls`` converted by LibreOffice from generated OOXML files (three
    conversions: run once per session); empty without LibreOffice."""
    program = soffice()
    if program is None:
        return {}
    sources = directory / "sources"
    sources.mkdir(parents=True, exist_ok=True)
    made = {}
    for maker, source, target in (
        (make_docx, "legacy.docx", "doc"),
        (make_pptx, "legacy.pptx", "ppt"),
        (make_xlsx, "legacy.xlsx", "xls"),
    ):
        maker(sources / source)
        subprocess.run(
            [
                program,
                f"-env:UserInstallation={(directory / 'profile').as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                target,
                "--outdir",
                str(directory),
                str(sources / source),
            ],
            capture_output=True,
            timeout=180,
            check=False,
        )
        result = directory / f"legacy.{target}"
        if result.is_file():
            made[target] = result
    return made


# --- markup ---------------------------------------------------------------------------------


def make_markup(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    outside = directory.parent / "outside-secret.txt"
    write(outside, SECRET)
    xml_utf16 = XML.format(encoding="UTF-16").encode("utf-16")  # with a byte-order mark
    return {
        "xml": write(directory / "catalog.xml", XML.format(encoding="UTF-8")),
        "xml_utf16": write(directory / "catalog-utf16.xml", xml_utf16),
        "xml_utf16_no_bom": write(
            directory / "catalog-nobom.xml", XML.format(encoding="UTF-16").encode("utf-16-be")
        ),
        "xml_laughs": write(directory / "laughs.xml", BILLION_LAUGHS),
        "xml_broken": write(directory / "broken.xml", "<a><b>unclosed</a>"),
        "org": write(directory / "garden.org", ORG.format(secret=outside)),
        "rst": write(directory / "guide.rst", RST.format(secret=outside)),
        "html_hidden": write(
            directory / "notice.html",
            HIDDEN_HTML.format(**{f"hidden{i + 1}": h for i, h in enumerate(HIDDEN)}),
        ),
        "txt_utf16_be": write(directory / "be.txt", f"{ENGLISH}\n".encode("utf-16-be")),
    }


# --- e-mail -----------------------------------------------------------------------------------


def make_email(path: Path, attachments: dict[str, bytes], html: str | None = None) -> Path:
    message = EmailMessage()
    message["Subject"] = "Site visit report"
    message["From"] = "ana@example.com"
    message["To"] = "ben@example.com"
    message.set_content("Hello Ben,\n\nThe site visit went well.\n")
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, data in attachments.items():
        maintype, subtype = (
            ("text", "plain") if name.endswith(".txt") else ("application", "octet-stream")
        )
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return write(path, message.as_bytes())


def make_encrypted_email(path: Path) -> Path:
    return write(
        path,
        "From: a@example.com\nTo: b@example.com\nSubject: secret\nMIME-Version: 1.0\n"
        'Content-Type: multipart/encrypted; boundary=foo; protocol="application/pgp-encrypted"\n\n'
        "--foo\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n\n"
        "--foo\nContent-Type: application/octet-stream\n\n-----BEGIN PGP MESSAGE-----\nhIwDY32h\n"
        "-----END PGP MESSAGE-----\n--foo--\n",
    )


# --- archives -------------------------------------------------------------------------------


def zip_bytes(members: dict[str, bytes], encrypted: frozenset[str] = frozenset()) -> bytes:
    """A zip of ``members``; those named in ``encrypted`` get the "encrypted" flag in the
    central directory (as a password-protected entry has), so they must be refused unread."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    data = bytearray(buffer.getvalue())
    at = data.find(b"PK\x01\x02")
    while at >= 0:  # central directory entries: flags at +8, name length at +28, name at +46
        size = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + size].decode() in encrypted:
            data[at + 8] |= 0x1
        at = data.find(b"PK\x01\x02", at + 46)
    return bytes(data)


def tar_gz_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


ARCHIVE_MEMBERS = {
    "docs/alpha.txt": b"Alpaca wool keeps mountain farmers warm.",
    "docs/beta.md": b"# Beta\n\nBeavers build dams across slow rivers.",
    "docs/.hidden.txt": b"never read",
    "__MACOSX/docs/._alpha.txt": b"resource fork junk",
    "notes.html": b"<html><body><p>Herons stand still in shallow water.</p></body></html>",
}


def make_archives(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    inner = zip_bytes({"deep.txt": b"Dormice sleep through the whole winter."})
    nested4 = {"level4.txt": b"four levels down"}
    for level in (3, 2, 1):
        nested4 = {f"level{level}.zip": zip_bytes(nested4)}
    zeros = bytes(60 * 1024 * 1024)
    return {
        "zip": write(directory / "bundle.zip", zip_bytes({**ARCHIVE_MEMBERS, "inner.zip": inner})),
        "tar_gz": write(directory / "bundle.tar.gz", tar_gz_bytes(ARCHIVE_MEMBERS)),
        "tgz_bad_member": write(
            directory / "mixed.tgz",
            tar_gz_bytes({"ok.txt": b"Otters hold hands while sleeping.", "empty.txt": b""}),
        ),
        "zip_bomb": write(directory / "bomb.zip", zip_bytes({"zeros.txt": zeros})),
        "tar_bomb": write(directory / "bomb.tar.gz", tar_gz_bytes({"zeros.txt": zeros})),
        "zip_deep": write(directory / "deep.zip", zip_bytes(nested4)),
        "zip_empty": write(directory / "empty.zip", zip_bytes({"folder/": b""})),
        "zip_encrypted_member": write(
            directory / "locked.zip",
            zip_bytes({"open.txt": b"Open text.", "locked.txt": b"x"}, frozenset({"locked.txt"})),
        ),
        "zip_many": write(
            directory / "many.zip", zip_bytes({f"f{i}.txt": b"tiny file" for i in range(30)})
        ),
        "tar_corrupt": write(directory / "corrupt.tar.gz", b"\x1f\x8b\x08\x00 not really gzip"),
    }
