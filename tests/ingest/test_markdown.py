"""The fast path (no unstructured): Markdown, reStructuredText and plain text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ragline.ingest.elements import CODE, LIST_ITEM, TABLE, TEXT, TITLE, Element
from ragline.ingest.loaders import load_file
from ragline.ingest.loaders.markdown import parse_markdown
from ragline.ingest.loaders.plain import parse_plain, parse_rst
from ragline.ingest.settings import IngestSettings
from tests.ingest.make_files import MARKDOWN, RST


def _find(elements: list[Element], text: str) -> Element:
    return next(e for e in elements if text in e.text)


def test_nested_headings_give_paths() -> None:
    elements = parse_markdown(MARKDOWN)
    titles = [(e.text, e.heading) for e in elements if e.type == TITLE]
    assert titles == [
        ("Guide", ("Guide",)),
        ("Install", ("Guide", "Install")),
        ("Linux details", ("Guide", "Install", "Linux details")),
        ("配置", ("Guide", "配置")),
        ("Setext Section", ("Guide", "Setext Section")),
        ("Appendix", ("Appendix",)),
    ]
    assert _find(elements, "package manager").heading == ("Guide", "Install", "Linux details")
    assert _find(elements, "中文段落").heading == ("Guide", "配置")
    assert _find(elements, "Final words").heading == ("Appendix",)


def test_fenced_code_is_one_element_and_hash_inside_is_not_a_heading() -> None:
    elements = parse_markdown(MARKDOWN)
    code = [e for e in elements if e.type == CODE]
    assert len(code) == 1
    assert "# this is a comment, not a heading" in code[0].text
    assert 'print("hello")' in code[0].text
    assert code[0].heading == ("Guide", "Install")
    assert not any("comment" in e.text for e in elements if e.type == TITLE)


def test_tilde_and_long_fences_and_unclosed_fence() -> None:
    text = "~~~\n# not a title\n```\n## still code\n~~~\n\n````\n```\n# inner\n````\n\n```\n# open"
    elements = parse_markdown(text)
    assert [e.type for e in elements] == [CODE, CODE, CODE]
    assert "```\n## still code" in elements[0].text
    assert "# inner" in elements[1].text
    assert elements[2].text.endswith("# open")


def test_table_is_one_element_with_rows_as_lines() -> None:
    elements = parse_markdown(MARKDOWN)
    tables = [e for e in elements if e.type == TABLE]
    assert len(tables) == 1
    assert tables[0].text == "key | value\nsize | 200\n语言 | 中文"


def test_table_cells_keep_escaped_pipes() -> None:
    (table,) = parse_markdown("a | b\n--- | ---\nx \\| y | z\n")
    assert table.type == TABLE
    assert table.text == "a | b\nx | y | z"


def test_atx_heading_variants() -> None:
    text = "## Closed ##\n\n#hashtag is text\n\n    # indented code\n\n###### Six\n\n####### seven"
    elements = parse_markdown(text)
    assert [(e.type, e.text) for e in elements] == [
        (TITLE, "Closed"),
        (TEXT, "#hashtag is text"),
        (TEXT, "# indented code"),
        (TITLE, "Six"),
        (TEXT, "####### seven"),
    ]
    assert elements[3].heading == ("Closed", "Six")


def test_setext_headings_and_thematic_breaks() -> None:
    text = "Top\n===\n\nbody\n\n---\n\nSub\n---\nunder sub\n\n***\nafter break"
    elements = parse_markdown(text)
    assert [(e.type, e.text, e.heading) for e in elements] == [
        (TITLE, "Top", ("Top",)),
        (TEXT, "body", ("Top",)),
        (TITLE, "Sub", ("Top", "Sub")),
        (TEXT, "under sub", ("Top", "Sub")),
        (TEXT, "after break", ("Top", "Sub")),
    ]


def test_lists_and_paragraphs() -> None:
    text = "Intro line one\nline two\n- first\n- second\n  more\n1. numbered\n\nPara"
    elements = parse_markdown(text)
    assert [(e.type, e.text) for e in elements] == [
        (TEXT, "Intro line one line two"),
        (LIST_ITEM, "first"),
        (LIST_ITEM, "second more"),
        (LIST_ITEM, "numbered"),
        (TEXT, "Para"),
    ]


def test_front_matter_is_text_not_a_heading() -> None:
    elements = parse_markdown(MARKDOWN)
    assert elements[0] == Element("title: Front matter title\ntags: [demo]", TEXT)


def test_empty_and_blank_markdown() -> None:
    assert parse_markdown("") == []
    assert parse_markdown("\n \n#\n") == []


def test_rst_titles_nest_by_adornment_order() -> None:
    elements = parse_rst(RST)
    assert [(e.text, e.heading) for e in elements if e.type == TITLE] == [
        ("User Manual", ("User Manual",)),
        ("Getting started", ("User Manual", "Getting started")),
        ("Advanced use", ("User Manual", "Advanced use")),
    ]
    assert _find(elements, "Tune the settings").heading == ("User Manual", "Advanced use")


def test_rst_overlined_title_and_transition() -> None:
    text = "=====\nMain\n=====\n\nIntro.\n\n----------\n\nSection\n-------\nBody."
    elements = parse_rst(text)
    assert [(e.type, e.text, e.heading) for e in elements] == [
        (TITLE, "Main", ("Main",)),
        (TEXT, "Intro.", ("Main",)),
        (TITLE, "Section", ("Main", "Section")),
        (TEXT, "Body.", ("Main", "Section")),
    ]


def test_plain_text_paragraphs_and_form_feed_pages() -> None:
    assert parse_plain("one\ntwo  \n\n \t\nthree\n") == [Element("one\ntwo"), Element("three")]
    paged = parse_plain("page one\fpage two\n\nmore")
    assert [(e.text, e.page) for e in paged] == [
        ("page one", 1),
        ("page two", 2),
        ("more", 2),
    ]


def test_load_file_markdown_without_unstructured(tmp_path: Path) -> None:
    """The fast path must not import unstructured (slow, and it may reach for the network)."""
    path = tmp_path / "guide.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    loaded = load_file(path, IngestSettings())
    assert loaded.mime_type == "text/markdown"
    assert loaded.elements == tuple(parse_markdown(MARKDOWN))
    script = (
        "import sys; from pathlib import Path; from ragline.ingest.loaders import load_file; "
        "from ragline.ingest.settings import IngestSettings; "
        f"load_file(Path({str(path)!r}), IngestSettings()); "
        "assert 'unstructured' not in sys.modules, 'unstructured was imported'"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_soft_line_breaks_render_as_spaces_and_hard_ones_stay() -> None:
    """A wrapped paragraph is one line of text (so a sentence is not cut at the wrap), with
    nothing inserted between CJK characters; a hard break (two spaces, backslash) stays."""
    text = "use the built-in\n`sorted()` function.\n\n下面的 `$unit`\n是一个单元名\n\nhard  \nbreak\\\nagain"
    assert [e.text for e in parse_markdown(text)] == [
        "use the built-in `sorted()` function.",
        "下面的 `$unit` 是一个单元名",
        "hard\nbreak\nagain",
    ]


def test_html_comment_blocks_are_not_text() -> None:
    text = "<!-- adapted from the FAQ\n(licence) -->\n# Title\n\n<!-- note --> after\n\nbody"
    assert [(e.type, e.text) for e in parse_markdown(text)] == [
        (TITLE, "Title"),
        (TEXT, "after"),
        (TEXT, "body"),
    ]
