"""The package layout: one `ragline` namespace over the top-level folders, layers that import
only downward, no import cycles, and a wheel that installs and imports on its own."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import grimp
import pytest
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
OLD_NAMES = {"app", "retrieval", "ingest", "eval"}


def folder_packages() -> set[str]:
    """Every package under the mapped folders, by its ``ragline.`` name."""
    found = set()
    for name, folder in SETUPTOOLS["package-dir"].items():
        base = ROOT / folder
        if name == "ragline.prompts":
            found.add(name)
            continue
        for init in base.rglob("__init__.py"):
            relative = init.parent.relative_to(base).parts
            if "__pycache__" not in relative:
                found.add(".".join((name, *relative)))
    return found


def test_the_package_list_matches_the_folders() -> None:
    assert set(SETUPTOOLS["packages"]) == folder_packages()


def test_the_folders_stay_at_the_top_level() -> None:
    for folder in ("app", "retrieval", "ingest", "eval", "prompts"):
        assert (ROOT / folder).is_dir()
    assert SETUPTOOLS["package-dir"]["ragline"] == "app"


def test_layers_import_only_downward() -> None:
    """The import-linter contracts in pyproject.toml (layers: cli | asgi > settings >
    server | eval > answer > cache | llm > ingest > retrieval) are kept."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_each_layer_owns_its_settings_sections() -> None:
    """A section is defined in the layer that reads it; the root settings only compose them,
    and each layer's view of the settings extends the view of the layer below."""
    from ragline.answer.settings import AnswerConfig
    from ragline.ingest.settings import IngestConfig
    from ragline.retrieval.settings import KernelConfig
    from ragline.server.settings import ServerConfig
    from ragline.settings import Settings

    owner = {
        "embedding": "retrieval",
        "chunking": "retrieval",
        "store": "retrieval",
        "retrieval": "retrieval",
        "prompts": "retrieval",
        "ingest": "ingest",
        "llm": "llm",
        "cache": "cache",
        "answer": "answer",
        "server": "server",
    }
    sections = {
        name: field.annotation
        for name, field in Settings.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    }
    assert set(sections) == set(owner)
    for name, section in sections.items():
        assert section.__module__ == f"ragline.{owner[name]}.settings", name
    assert Settings.__mro__[1:5] == (ServerConfig, AnswerConfig, IngestConfig, KernelConfig)
    assert set(KernelConfig.model_fields) == {
        "data_dir",
        *(n for n, o in owner.items() if o == "retrieval"),
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules_or_packages() -> None:
    """Imports under TYPE_CHECKING count too: a cycle is a cycle for a reader."""
    graph = grimp.build_graph("ragline")
    modules = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(modules) == []
    packages = {m for m in modules if any(o.startswith(m + ".") for o in modules)}

    def package_of(module: str) -> str:
        return module if module in packages else module.rsplit(".", 1)[0]

    between: dict[str, set[str]] = {}
    for module, imported in modules.items():
        for other in imported:
            a, b = package_of(module), package_of(other)
            if a != b and not a.startswith(b + ".") and not b.startswith(a + "."):
                between.setdefault(a, set()).add(b)
    assert _cycles(between) == []


def test_nothing_imports_the_old_top_level_names() -> None:
    offenders = []
    for folder in ("app", "retrieval", "ingest", "eval", "tests", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [
                    f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in OLD_NAMES
                ]
    assert offenders == []


@pytest.mark.slow
def test_the_wheel_installs_and_imports_in_a_clean_venv(tmp_path: Path) -> None:
    """Build the wheel, install it (no dependencies) into a new venv that sees the project's
    dependencies but not its editable install, and use it from there."""
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("ragline-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in (
        "ragline/__init__.py",
        "ragline/retrieval/collection.py",
        "ragline/cli/__init__.py",
        "ragline/prompts/grounded_qa.en.yaml",
        "ragline/server/static/index.html",
        "ragline/py.typed",
    ):
        assert expected in names
    assert not any(n.split("/")[0] in OLD_NAMES for n in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    subprocess.run(
        [*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    # the project's dependencies, without processing its .pth files (the editable install)
    deps = next(Path(p) for p in sys.path if p.endswith("site-packages") and ".venv" in p)
    (site / "project-deps.pth").write_text(str(deps) + "\n")
    code = (
        "import ragline, ragline.cli, ragline.server, ragline.eval, ragline.ingest.pipeline\n"
        "from ragline.settings import load_settings\n"
        "assert load_settings(data_dir='d').data_dir.name == 'd'\n"
        "from ragline.retrieval.prompting.templates import TemplateLibrary\n"
        "assert TemplateLibrary().get('grounded_qa', 'en').id == 'grounded_qa'\n"
        "import importlib.util\n"
        "assert importlib.util.find_spec('retrieval') is None\n"
        "print(ragline.__file__)\n"
    )
    python = venv / "bin" / "python"
    result = subprocess.run(
        [python, "-I", "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith(str(site))
    cli = subprocess.run(
        [python, "-I", "-m", "ragline", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert cli.returncode == 0 and "ingest" in cli.stdout, cli.stderr[-2000:]
