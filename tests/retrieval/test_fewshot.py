"""Few-shot example files and their selection per question."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ragline.retrieval.errors import PromptError
from ragline.retrieval.prompting.build import PromptBuilder
from ragline.retrieval.prompting.fewshot import (
    ExampleSelector,
    find_examples,
    load_examples,
    rank_by_similarity,
)
from ragline.retrieval.prompting.templates import TemplateLibrary, default_prompts_dir
from ragline.retrieval.prompting.tokenizers import ApproxTokenizer
from tests.retrieval.fakes import BagOfWordsEmbedder

YAML = """id: demo
version: 7
examples:
  - id: tabs
    question: How do I indent with tabs?
    answer: Use spaces.
  - id: venv
    question: How do I create a virtual environment?
    answer: python -m venv
  - id: pin
    question: How do I pin a package version?
    answer: name==1.2
"""


def test_yaml_and_jsonl_files(tmp_path: Path) -> None:
    (tmp_path / "demo.en.examples.yaml").write_text(YAML)
    examples = load_examples(find_examples(tmp_path, "demo.en"))
    assert examples.id == "demo" and examples.version == "7"
    assert [e.id for e in examples.examples] == ["tabs", "venv", "pin"]
    lines = [json.dumps({"id": f"e{i}", "question": f"q{i}", "answer": "a"}) for i in range(2)]
    (tmp_path / "x.en.examples.jsonl").write_text("\n".join(lines))
    jsonl = load_examples(tmp_path / "x.en.examples.jsonl")
    assert jsonl.id == "x.en" and jsonl.version.startswith("sha256:")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("examples: [{id: a, question: q}]", "has no 'answer'"),
        ("examples: [{id: a, question: q, answer: x}, {id: a, question: r, answer: y}]", "twice"),
        ("just: text", "'examples' list"),
    ],
)
def test_bad_example_files(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.examples.yaml"
    path.write_text(body)
    with pytest.raises(PromptError, match=message):
        load_examples(path)


def test_similarity_selection_picks_the_closest_questions(tmp_path: Path) -> None:
    (tmp_path / "demo.examples.yaml").write_text(YAML)
    selector = ExampleSelector(load_examples(tmp_path / "demo.examples.yaml"), BagOfWordsEmbedder())
    assert [e.id for e in selector.select("create a virtual environment", 1)] == ["venv"]
    assert selector.select("pin the package version", 2)[0].id == "pin"
    assert selector.select("anything", 0) == ()
    assert len(selector.select("anything", 10)) == 3


def test_fixed_selection_keeps_file_order(tmp_path: Path) -> None:
    (tmp_path / "demo.examples.yaml").write_text(YAML)
    selector = ExampleSelector(load_examples(tmp_path / "demo.examples.yaml"), mode="fixed")
    assert [e.id for e in selector.select("pin the package version", 2)] == ["tabs", "venv"]


def test_ties_are_broken_by_file_order() -> None:
    assert rank_by_similarity(np.array([0.5, 0.9, 0.5, 0.9000000001])) == [1, 3, 0, 2]


def test_selected_ids_go_into_the_prompt_record() -> None:
    path = find_examples(default_prompts_dir(), "fewshot_qa.en")
    builder = PromptBuilder(
        ApproxTokenizer(4096),
        TemplateLibrary(default_prompts_dir()),
        selector=ExampleSelector(load_examples(path), BagOfWordsEmbedder()),
        examples_k=1,
    )
    prompt = builder.build("How can I pin the exact version of a package?", [])
    assert prompt.example_ids == ("pip-pin",) and prompt.examples_version == "1"
    assert "name==1.2.3" in prompt.messages[1].content
    assert "pip-pin" in prompt.key_parts()["examples"]
