"""The recipe layer is core: loading and validating a recipe imports neither torch nor the
launchers (DESIGN.md's layers; `sslctl validate` answers without paying torch's import)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import RECIPES


def test_loading_every_quick_recipe_imports_neither_torch_nor_launchers() -> None:
    """Method hyper-parameters are validated from the methods' source declarations."""
    code = (
        "import sys, pathlib; from sslctl.recipe import load_recipe; "
        f"[load_recipe(p) for p in sorted(pathlib.Path({str(RECIPES)!r}).glob('*.yaml'))]; "
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('sslctl.launch')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=600)
