"""The package's layout: one folder per stage, and imports that only point to earlier stages."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rag"

# The stages, each a folder, in the order they may depend on each other: a module imports from its
# own stage and earlier ones, never from a later one. Core modules (errors, schema, config,
# weights) are the vocabulary every stage shares. The index (embeddings and the store) comes before
# ingestion, which writes to it; verification comes before answering, whose LLM answers are
# checked sentence by sentence as they arrive.
STAGES = [
    "core",
    "text",
    "index",
    "ingest",
    "question",
    "retrieve",
    "verification",
    "answer",
    "assistant",
    "evaluation",
    "app",
]
CORE = {"rag.errors", "rag.schema", "rag.config", "rag.weights"}
MAX_STAGE_LINES = 1500


def _stage(module: str) -> str | None:
    """The stage a rag module belongs to (None for the package's own entry points)."""
    if module in CORE:
        return "core"
    if module in ("rag", "rag.__main__"):
        return None
    if module == "rag.assistant":
        return "assistant"
    return module.split(".")[1]


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every rag module `path` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rag":
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "rag")
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_known_stage() -> None:
    unknown = {_module(p) for p in _modules() if _stage(_module(p)) not in (None, *STAGES)}
    assert not unknown, f"modules outside the stages {STAGES}: {sorted(unknown)}"


def test_imports_point_only_to_the_same_or_an_earlier_stage() -> None:
    backwards = []
    for path in _modules():
        here = _stage(_module(path))
        if here is None:
            continue
        for imported in _imports(path):
            there = _stage(imported)
            if there is not None and STAGES.index(there) > STAGES.index(here):
                backwards.append(f"{_module(path)} ({here}) imports {imported} ({there})")
    assert not backwards, "imports from a later stage:\n" + "\n".join(sorted(backwards))


def test_the_rule_catches_an_import_from_a_later_stage(tmp_path: Path) -> None:
    """The check above can fail: a text module importing the answer stage is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rag.question.query import Query\n", encoding="utf-8")
    assert _imports(bad) == {"rag.question.query"}
    assert STAGES.index(_stage("rag.question.query") or "") > STAGES.index(_stage("rag.text.clean") or "")


def test_no_stage_is_over_its_size() -> None:
    sizes: dict[str, int] = {}
    for path in _modules():
        stage = _stage(_module(path)) or "package"
        sizes[stage] = sizes.get(stage, 0) + len(path.read_text(encoding="utf-8").splitlines())
    assert max(sizes.values()) <= MAX_STAGE_LINES, sizes
