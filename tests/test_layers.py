"""DESIGN.md's layers, checked on the source: cli -> orchestration -> learning -> building
-> core, each module importing (at the top or inside a function) only from its own layer
or below."""

from __future__ import annotations

import ast
from pathlib import Path

import sslctl

PACKAGE = Path(sslctl.__file__).parent
ORCHESTRATION = [
    "pipeline",
    "stages",
    "evaluate",
    "evaluate_target",
    "external",
    "tracking",
    "overview",
    "launch",
    "sweep",
    "report",
    "claims",
    "study_log",
    "ui",
    "progress",
    "bench",
]
LAYERS = {
    "cli": 4,
    "__main__": 4,
    **dict.fromkeys(ORCHESTRATION, 3),
    **dict.fromkeys(["train", "evals", "studies", "distributed", "optim"], 2),  # learning
    **dict.fromkeys(["methods", "models", "data"], 1),  # building
}  # everything else (recipe, vocabulary, paths, errors, runtime, markup, locks): core, 0

# The recipe layer validates names against the building layer's torch-free declarations:
# the method registry (facts read from the method files' source), the dataset catalogue
# and a packed dataset's manifest. Nothing else may reach upwards.
DECLARATIONS = {
    "sslctl.methods",
    "sslctl.data",
    "sslctl.data.catalog",
    "sslctl.data.stream.manifest",
}


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], 0) if len(parts) > 1 else 0


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] == "sslctl"}


def module_name(path: Path) -> str:
    return ".".join(("sslctl", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
        ".__init__"
    )


def test_no_module_imports_from_a_higher_layer() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        me = module_name(path)
        for target in imports(path):
            allowed = me.startswith("sslctl.recipe") and target in DECLARATIONS
            if layer(target) > layer(me) and not allowed:
                upward.append(f"{me} -> {target}")
    assert upward == []


def test_the_check_sees_an_upward_import() -> None:
    assert layer("sslctl.studies.report") == 2 and layer("sslctl.tracking") == 3
    assert layer("sslctl.recipe.schema") == 0 and layer("sslctl.launch.resources") == 3
