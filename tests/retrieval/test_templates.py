"""Prompt templates: the shipped ones load and render; mistakes are clear PromptErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragline.retrieval.errors import PromptError
from ragline.retrieval.prompting.templates import (
    TemplateLibrary,
    default_prompts_dir,
    load_template,
)

SHIPPED = ["grounded_qa", "cot_qa", "self_consistency", "condense_question", "no_context"]
VARIABLES = {
    "question": "q?",
    "context": "ctx",
    "fence": "source-abc",
    "sources": [],
    "examples": [],
    "history": [{"role": "user", "content": "hi"}],
}


@pytest.mark.parametrize("template_id", SHIPPED)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_shipped_templates_load_and_render(template_id: str, language: str) -> None:
    template = TemplateLibrary().get(template_id, language)
    assert template.id == template_id and template.version and len(template.digest) == 64
    system, user = template.render(**{k: VARIABLES[k] for k in template.variables})
    assert system and "q?" in user


def test_library_lists_ids_and_falls_back_to_english() -> None:
    library = TemplateLibrary()
    assert set(SHIPPED) <= set(library.ids())
    assert library.get("grounded_qa", "zh").language == "zh"
    assert library.get("self_consistency", "fr").language == "en"
    with pytest.raises(PromptError, match="no prompt template 'nope'"):
        library.get("nope")


def test_cot_templates_declare_the_answer_line() -> None:
    assert TemplateLibrary().get("cot_qa").answer_prefix == "Final answer:"
    assert TemplateLibrary().get("cot_qa", "zh").answer_prefix == "最终答案："
    assert TemplateLibrary().get("no_context").constants["not_found"]


def write(tmp_path: Path, body: str, name: str = "t.en.yaml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """id: t
version: 2
description: test
variables: [question]
system: You help.
template: "Q: {{ question }}"
"""


def test_missing_variable_names_file_and_variable(tmp_path: Path) -> None:
    template = load_template(write(tmp_path, GOOD))
    with pytest.raises(PromptError) as err:
        template.render()
    assert str(err.value) == f"{tmp_path / 't.en.yaml'}: missing template variable 'question'"


def test_undefined_attribute_at_render_is_a_prompt_error(tmp_path: Path) -> None:
    body = GOOD.replace("{{ question }}", "{{ question.missing }}")
    template = load_template(write(tmp_path, body))
    with pytest.raises(PromptError, match=r"t\.en\.yaml: undefined template variable"):
        template.render(question="plain string")


def test_undeclared_variable_is_refused_at_load(tmp_path: Path) -> None:
    body = GOOD.replace("{{ question }}", "{{ question }} {{ context }}")
    with pytest.raises(PromptError, match="undeclared variable 'context'"):
        load_template(write(tmp_path, body))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (GOOD.replace("version: 2\n", ""), "missing field 'version'"),
        (GOOD.replace("id: t", "id: other"), "does not match the file name"),
        (GOOD.replace('"Q: {{ question }}"', '"{% if %}"'), "template line 1"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("id: [unclosed\n", "cannot read template"),
    ],
)
def test_broken_files_are_one_line_prompt_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(PromptError, match=message) as err:
        load_template(write(tmp_path, body))
    assert "\n" not in str(err.value)


def test_default_dir_is_the_repository_prompts() -> None:
    assert (default_prompts_dir() / "README.md").is_file()
