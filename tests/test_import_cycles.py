"""No module of the integration or the simulator imports itself through others."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).parents[1] / "scripts" / "import_cycles.py"


def checker() -> ModuleType:
    """Load scripts/import_cycles.py (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("import_cycles", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_cycles() -> None:
    """`scripts/run python scripts/import_cycles.py` finds nothing."""
    assert checker().main([]) == 0


def test_cycles_are_found(tmp_path: Path) -> None:
    """Relative, absolute, type-only and function-level imports all count."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text("from ..a import A\n")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n"
    )
    (package / "b.py").write_text("def f():\n    import pkg.a\n")
    (package / "c.py").write_text("from .sub.leaf import X\n")
    assert checker().cycles([package]) == [["pkg.a", "pkg.b"]]
    (package / "a.py").write_text("from .c import C\n")
    assert checker().cycles([package]) == [
        ["pkg.a", "pkg.c", "pkg.sub.leaf"],
    ]
    assert checker().main([str(package)]) == 1
