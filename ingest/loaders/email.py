"""E-mail: RFC 822 messages (.eml, read with Python's email package) and Outlook messages
(.msg, read with python-oxmsg, which unstructured's msg partitioner also uses).

The subject heads the document and the body follows under it; an HTML body goes through the
same hidden-content removal as HTML files. Encrypted messages (S/MIME, PGP) are refused.
Attachments become members of their own (``mail.eml!/report.pdf``) when
``ingest.email_attachments`` is on, loaded with every guard a file on disk gets; otherwise
they are not read.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from ragline.ingest.decode import BINARY, decode_text, looks_binary, wide_encoding
from ragline.ingest.elements import TITLE, Element
from ragline.ingest.loaders.containers import Contents, Member, Unpacking, unique_names
from ragline.ingest.loaders.html import html_elements
from ragline.ingest.loaders.plain import parse_plain
from ragline.retrieval.errors import LoaderError

ENCRYPTED = "encrypted e-mail"
_ENCRYPTED_TYPES = frozenset(
    {"multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime"}
)
_SNIFF_BYTES = 64 * 1024


def unpack_eml(path: Path, unpacking: Unpacking) -> Contents:
    data = path.read_bytes()
    if looks_binary(data[:_SNIFF_BYTES]):
        raise LoaderError(BINARY)
    if b"\x00" in data[:_SNIFF_BYTES] and wide_encoding(data) is not None:
        data = decode_text(data).encode("utf-8")  # UTF-16/32 without a byte-order mark
    message = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(data)
    if _encrypted(message):
        raise LoaderError(ENCRYPTED)
    subject = " ".join(str(message.get("subject") or "").split())
    body: list[Element] = []
    part = message.get_body(preferencelist=("html", "plain"))
    if part is not None:
        text = _text_of(part)
        html = part.get_content_type() == "text/html"
        body = html_elements(text, path) if html else parse_plain(text)
    attachments: list[tuple[str, bytes]] = []
    if unpacking.settings.email_attachments:
        for index, attachment in enumerate(message.iter_attachments(), start=1):
            payload = attachment.get_payload(decode=True)
            if isinstance(payload, bytes):
                name = attachment.get_filename() or f"attachment-{index}"
                attachments.append((name, payload))
    return Contents(_under_subject(subject, body), _members(attachments, unpacking))


def unpack_msg(path: Path, unpacking: Unpacking) -> Contents:
    from oxmsg import Message as OutlookMessage

    message: Any = OutlookMessage.load(str(path))
    if "encrypted" in str(message.message_headers.get("Content-Type", "")).lower():
        raise LoaderError(ENCRYPTED)
    subject = " ".join(str(message.subject or "").split())
    if message.html_body:
        body = html_elements(str(message.html_body), path)
    else:
        body = parse_plain(str(message.body or "").replace("\r\n", "\n"))
    attachments: list[tuple[str, bytes]] = []
    if unpacking.settings.email_attachments:
        for index, attachment in enumerate(message.attachments, start=1):
            if attachment.file_bytes:
                name = attachment.file_name or f"attachment-{index}"
                attachments.append((str(name), bytes(attachment.file_bytes)))
    return Contents(_under_subject(subject, body), _members(attachments, unpacking))


def _members(attachments: list[tuple[str, bytes]], unpacking: Unpacking) -> tuple[Member, ...]:
    members: list[Member] = []
    names = unique_names([n.replace("/", "_").replace("\\", "_") for n, _ in attachments])
    for name, (_, data) in zip(names, attachments, strict=True):
        unpacking.take(len(data))
        members += unpacking.load_member(name, data)
    return tuple(members)


def _under_subject(subject: str, body: list[Element]) -> tuple[Element, ...]:
    if not subject:
        return tuple(body)
    top = (subject,)
    return (
        Element(subject, TITLE, heading=top),
        *(Element(e.text, e.type, e.page, top + e.heading, e.ocr) for e in body),
    )


def _encrypted(message: Message) -> bool:
    kind = message.get_content_type()
    if kind not in _ENCRYPTED_TYPES:
        return False
    return "signed-data" not in str(message.get_param("smime-type", "") or "")


def _text_of(part: Message) -> str:
    try:
        return str(part.get_content())  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True)
        return decode_text(payload) if isinstance(payload, bytes) and payload else ""
