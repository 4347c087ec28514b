"""The code's shape, as docs/architecture.md states it: data flows one way, modules and functions stay small.

Each module belongs to a stage; a stage imports only from itself and the stages to its left
(imports inside functions count too). A new module must be given its stage here, which is the
point: where it sits in the flow is a decision, not an accident.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "twistfm"

#: Stages from left to right; a module's stage is the longest prefix of its dotted name listed here.
STAGES: dict[str, int] = {
    "errors": 0, "atomic": 0, "schema": 0, "progress": 0, "machine": 0, "lock": 0, "interrupts": 0,
    "distributed": 0, "__init__": 0,
    "data": 1,
    "models": 2,
    "train": 3, "training": 3, "options": 3, "recipes": 3,
    "runs": 4,
    "encode": 5,
    "analysis": 6,
    "report": 7,
    "workflows": 8,
    "sweep": 9,
    "api": 10,
    "console": 11, "cli": 11, "__main__": 11,
}

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py"))


def _dotted(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _stage(dotted: str) -> int | None:
    parts = dotted.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in STAGES:
            return STAGES[".".join(parts[:n])]
    return None


def _imported(path: Path, tree: ast.AST) -> set[str]:
    """The twistfm modules ``path`` imports, as dotted names relative to the package."""
    package = _dotted(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [".".join([*target, a.name]) for a in node.names] if not node.module else []
                found.add(".".join(target) if target else "__init__")
                found.update(n for n in names if _stage(n) is not None)
            elif node.module and node.module.startswith("twistfm"):
                found.add(node.module.removeprefix("twistfm").lstrip(".") or "__init__")
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("twistfm.") for a in node.names if a.name.startswith("twistfm."))
    return found


def test_every_module_has_a_stage() -> None:
    missing = [_dotted(p) for p in _modules() if _stage(_dotted(p)) is None]
    assert not missing, f"give these modules a stage in STAGES (and in docs/architecture.md): {missing}"


def test_imports_point_left_in_the_flow() -> None:
    wrong = []
    for path in _modules():
        here = _dotted(path)
        if path.name == "__init__.py" and here == "__init__":
            continue
        mine = _stage(here)
        for target in _imported(path, ast.parse(path.read_text())):
            theirs = _stage(target)
            if mine is not None and theirs is not None and theirs > mine:
                wrong.append(f"{here} (stage {mine}) imports {target} (stage {theirs})")
    assert not wrong, "imports that point right in the flow:\n" + "\n".join(sorted(set(wrong)))


def test_modules_stay_small() -> None:
    big = [f"{_dotted(p)}: {n} lines" for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_functions_stay_small() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{_dotted(path)}.{node.name} (line {node.lineno}): {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


@pytest.mark.parametrize(("source", "bad"), [
    ("from ..report import figures\n", True),      # analysis -> report: right
    ("from ..encode import encode\n", False),      # analysis -> encode: left
    ("def f():\n    from ..workflows import x\n", True),  # a lazy import counts
])
def test_the_import_check_sees_a_wrong_import(tmp_path: Path, source: str, bad: bool) -> None:
    path = SRC / "analysis" / "_probe.py"
    targets = _imported(path, ast.parse(source))
    assert any(_stage(t) is not None and _stage(t) > _stage("analysis._probe") for t in targets) is bad
