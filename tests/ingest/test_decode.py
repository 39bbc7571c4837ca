"""decode_text: byte-order marks, UTF-8, legacy Chinese and Western encodings, binary refusal."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ragline.ingest.decode import BINARY, decode_text, looks_binary, wide_encoding
from ragline.retrieval.errors import LoaderError
from tests.ingest.make_files import CHINESE, ENGLISH, FRENCH, GERMAN, MIXED

JAPANESE = "日本語のテキストです。検索拡張生成は回答に出典を付けます。"
TRADITIONAL = "檢索增強生成把搜索索引和語言模型結合起來，使每個回答都能夠引用它的來源。"


@pytest.mark.parametrize(
    "encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"]
)
def test_byte_order_marks(encoding: str) -> None:
    text = f"{MIXED}\n{FRENCH}"
    data = text.encode(encoding)
    if not encoding.startswith("utf-8") and encoding not in ("utf-16", "utf-32"):
        data = "\ufeff".encode(encoding) + data  # the -le/-be codecs write no BOM
    assert decode_text(data) == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (f"{ENGLISH}\n{CHINESE}\n{MIXED}", "utf-8"),
        (f"{CHINESE}\n{CHINESE}", "gb18030"),
        (f"{CHINESE}\n{MIXED}", "gbk"),
        (TRADITIONAL, "big5"),
        (JAPANESE, "shift_jis"),
        (f"{FRENCH}\n{FRENCH}", "latin-1"),
        (FRENCH, "cp1252"),
        (GERMAN, "cp1252"),
    ],
)
def test_real_samples_decode(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding)) == text


def test_newlines_are_normalised() -> None:
    assert decode_text(b"one\r\ntwo\rthree\nfour") == "one\ntwo\nthree\nfour"
    assert decode_text("一\r\n二".encode("utf-16")) == "一\n二"


def test_almost_utf8_keeps_its_text() -> None:
    data = (CHINESE * 3).encode("utf-8") + b"\xff" + MIXED.encode("utf-8")
    text = decode_text(data)
    assert CHINESE in text and MIXED in text and "\ufffd" in text


def test_tabs_escapes_and_form_feeds_are_text() -> None:
    assert decode_text(b"a\tb\x1b[31mred\x1b[0m\fpage") == "a\tb\x1b[31mred\x1b[0m\fpage"


@pytest.mark.parametrize(
    "data",
    [
        random.Random(7).randbytes(4096),
        b"text with a NUL\x00 byte",
        bytes(range(1, 32)) * 20,
        b"\xef\xbb\xbf\xff\xfe broken after a UTF-8 BOM",
        bytes(4000),
    ],
    ids=["random", "nul", "controls", "bad-after-bom", "zeros"],
)
def test_binary_is_refused(data: bytes) -> None:
    with pytest.raises(LoaderError, match=BINARY):
        decode_text(data)


_TEXT = st.text(
    alphabet=st.characters(
        exclude_categories=("Cc", "Cs"), exclude_characters="\ufeff", include_characters="\n\t\r"
    ),
    max_size=300,
)


@given(text=_TEXT, encoding=st.sampled_from(["utf-8", "utf-16", "utf-8-sig", "utf-32"]))
def test_round_trip(text: str, encoding: str) -> None:
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert decode_text(text.encode(encoding)) == expected


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
@pytest.mark.parametrize("text", [f"{ENGLISH}\n{FRENCH}", f"{MIXED}\n{CHINESE}", GERMAN])
def test_utf16_and_utf32_without_a_byte_order_mark(encoding: str, text: str) -> None:
    data = text.encode(encoding)
    assert wide_encoding(data) == encoding
    assert decode_text(data) == text
    assert not looks_binary(data)


def test_random_bytes_with_nuls_are_not_wide_text() -> None:
    rng = random.Random(11)
    for _ in range(200):
        data = rng.randbytes(1024)
        assert wide_encoding(data) is None and looks_binary(data)
