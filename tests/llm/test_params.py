"""GenerationParams: validation, per-request overrides, settings defaults."""

from __future__ import annotations

import pytest

from ragline.llm import GenerationParams, InvalidGenerationParams
from ragline.llm.settings import LLMSettings
from ragline.retrieval.errors import UsageError


def test_defaults_are_greedy_and_neutral() -> None:
    params = GenerationParams()
    assert params.temperature == 0.0 and not params.sampled
    assert params.top_k == 0 and params.repetition_penalty == 1.0 and params.seed is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", -0.1, "temperature must be in [0, 2]"),
        ("temperature", 2.5, "temperature must be in [0, 2]"),
        ("temperature", "hot", "temperature must be a number"),
        ("temperature", float("nan"), "temperature must be a number"),
        ("top_p", 0.0, "top_p must be in (0, 1]"),
        ("top_p", 1.5, "top_p must be in (0, 1]"),
        ("top_k", -1, "top_k must be in"),
        ("top_k", 2.5, "top_k must be an integer"),
        ("max_new_tokens", 0, "max_new_tokens must be in [1,"),
        ("max_new_tokens", True, "max_new_tokens must be an integer"),
        ("repetition_penalty", 0, "repetition_penalty must be in (0, 10]"),
        ("seed", -5, "seed must be in"),
        ("stop", ("",), "stop must be a list of non-empty strings"),
        ("stop", tuple(str(i) for i in range(17)), "stop takes at most 16"),
    ],
)
def test_bad_values_raise_one_line_errors(field: str, value: object, message: str) -> None:
    with pytest.raises(InvalidGenerationParams) as info:
        GenerationParams(**{field: value})  # type: ignore[arg-type]
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)


def test_merged_applies_overrides_and_aliases() -> None:
    base = GenerationParams(max_new_tokens=64)
    merged = base.merged(
        {"temperature": 0.7, "max_tokens": 16, "stop": "\n\n", "repeat_penalty": 1.1, "top_p": None}
    )
    assert merged == GenerationParams(
        temperature=0.7, max_new_tokens=16, stop=("\n\n",), repetition_penalty=1.1
    )
    assert merged.sampled
    assert base.merged({}) is base
    assert base.merged({"stop": ["a", "b"]}).stop == ("a", "b")
    assert GenerationParams(seed=3).merged({"seed": None}).seed is None


def test_merged_rejects_unknown_and_bad_values() -> None:
    with pytest.raises(InvalidGenerationParams, match="unknown generation parameter 'temprature'"):
        GenerationParams().merged({"temprature": 0.5})
    with pytest.raises(InvalidGenerationParams, match="temperature must be in"):
        GenerationParams().merged({"temperature": 9})
    with pytest.raises(InvalidGenerationParams, match="stop must be a string or a list"):
        GenerationParams().merged({"stop": 5})


def test_from_settings_and_to_dict() -> None:
    params = GenerationParams.from_settings(
        LLMSettings(temperature=0.2, top_k=40, max_new_tokens=99, seed=7)
    )
    assert params.to_dict() == {
        "temperature": 0.2,
        "top_p": 1.0,
        "top_k": 40,
        "max_new_tokens": 99,
        "stop": [],
        "repetition_penalty": 1.0,
        "seed": 7,
    }
    with pytest.raises(AttributeError):
        params.temperature = 1.0  # type: ignore[misc]
