"""Prompt templates: YAML files in ``prompts/`` with Jinja bodies (see prompts/README.md).

A file ``<id>.<language>.yaml`` holds::

    id: grounded_qa              # must match the file name
    version: 3                   # travels into answers and cache keys
    language: en
    description: ...
    variables: [question, context, fence]   # what callers must pass
    output: {format: text}       # or {format: cot, answer_prefix: "Final answer:"}
    constants: {...}             # optional fixed strings the code reads (e.g. not_found)
    system: |                    # Jinja, rendered with the same variables
      ...
    template: |                  # Jinja: the user message
      ...

Rendering uses StrictUndefined: a missing variable is a one-line PromptError naming the file
and the variable. A template that uses a variable it does not declare is refused at load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ragline.retrieval.errors import PromptError

_REQUIRED = ("id", "version", "description", "system", "template", "variables")
_UNDEFINED = re.compile(r"'([^']+)' is undefined")
_BUILTINS = frozenset({"loop", "range", "dict", "lipsum", "cycler", "joiner", "namespace"})


def default_prompts_dir() -> Path:
    """The prompts shipped with ragline: the ``ragline.prompts`` data package (the
    repository's top-level ``prompts/`` folder)."""
    spec = importlib.util.find_spec("ragline.prompts")
    if spec is None or not spec.submodule_search_locations:
        raise PromptError("the bundled prompts (ragline.prompts) are not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


@dataclass(frozen=True)
class PromptTemplate:
    id: str
    version: str
    language: str
    description: str
    system: str
    template: str
    variables: tuple[str, ...]
    output: Mapping[str, Any] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    path: Path = Path()
    digest: str = ""
    """sha256 of the file: changes with any edit, even one that forgot to bump ``version``."""

    @property
    def output_format(self) -> str:
        return str(self.output.get("format", "text"))

    @property
    def answer_prefix(self) -> str | None:
        prefix = self.output.get("answer_prefix")
        return None if prefix is None else str(prefix)

    def render(self, **variables: Any) -> tuple[str, str]:
        """(system message, user message)."""
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise PromptError(f"{self.path}: missing template variable {missing[0]!r}")
        return self._render("system", variables), self._render("template", variables)

    def _render(self, part: str, variables: Mapping[str, Any]) -> str:
        import jinja2

        try:
            return str(self._compiled[part].render(**variables)).strip()
        except jinja2.UndefinedError as exc:
            match = _UNDEFINED.search(str(exc))
            name = match.group(1) if match else str(exc)
            raise PromptError(f"{self.path}: undefined template variable {name!r}") from None
        except jinja2.TemplateError as exc:
            raise PromptError(f"{self.path}: {part} cannot be rendered: {exc}") from None

    @cached_property
    def _compiled(self) -> dict[str, Any]:
        env = _environment()
        return {
            "system": env.from_string(self.system),
            "template": env.from_string(self.template),
        }


def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )


def load_template(path: Path) -> PromptTemplate:
    """Read and check one template file; every problem is a one-line PromptError."""
    import jinja2
    import jinja2.meta
    import yaml

    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PromptError(f"{path}: cannot read template: {reason}") from None
    if not isinstance(data, dict):
        raise PromptError(f"{path}: a template file must be a YAML mapping")
    for key in _REQUIRED:
        if key not in data:
            raise PromptError(f"{path}: missing field {key!r}")
    stem_id, _, stem_lang = path.name.removesuffix(".yaml").partition(".")
    if str(data["id"]) != stem_id:
        raise PromptError(f"{path}: id {data['id']!r} does not match the file name")
    variables = data["variables"]
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise PromptError(f"{path}: 'variables' must be a list of names")
    env = _environment()
    used: set[str] = set()
    for part in ("system", "template"):
        try:
            used |= jinja2.meta.find_undeclared_variables(env.parse(str(data[part])))
        except jinja2.TemplateSyntaxError as exc:
            raise PromptError(f"{path}: {part} line {exc.lineno}: {exc.message}") from None
    undeclared = sorted(used - set(variables) - _BUILTINS)
    if undeclared:
        raise PromptError(f"{path}: template uses undeclared variable {undeclared[0]!r}")
    output = data.get("output") or {}
    constants = data.get("constants") or {}
    if not isinstance(output, dict) or not isinstance(constants, dict):
        raise PromptError(f"{path}: 'output' and 'constants' must be mappings")
    return PromptTemplate(
        id=stem_id,
        version=str(data["version"]),
        language=str(data.get("language") or stem_lang or "en"),
        description=str(data["description"]),
        system=str(data["system"]),
        template=str(data["template"]),
        variables=tuple(variables),
        output=output,
        constants={str(k): str(v) for k, v in constants.items()},
        path=path,
        digest=hashlib.sha256(raw).hexdigest(),
    )


class TemplateLibrary:
    """Templates by id and language, loaded from a directory on first use."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_prompts_dir()
        self._cache: dict[Path, PromptTemplate] = {}

    def path_of(self, template_id: str, language: str = "en") -> Path:
        for lang in dict.fromkeys((language, "en")):
            candidate = self.directory / f"{template_id}.{lang}.yaml"
            if candidate.is_file():
                return candidate
        plain = self.directory / f"{template_id}.yaml"
        if plain.is_file():
            return plain
        raise PromptError(f"no prompt template {template_id!r} in {self.directory}")

    def get(self, template_id: str, language: str = "en") -> PromptTemplate:
        path = self.path_of(template_id, language)
        if path not in self._cache:
            self._cache[path] = load_template(path)
        return self._cache[path]

    def ids(self) -> list[str]:
        names = {
            p.name.split(".")[0]
            for p in self.directory.glob("*.yaml")
            if ".examples." not in p.name
        }
        return sorted(names)
