"""The package layout: no import cycles, every module imports on its own, public calls are plain functions."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import import_cycles  # noqa: E402

STAGES = {  # every top-level entry of src/lmforge/ and its stage (docs/architecture.md)
    "__init__.py": "package",
    "api.py": "package",
    "version.py": "package",
    "errors.py": "shared",
    "atomic_files.py": "shared",
    "config": "shared",
    "models.py": "shared",
    "data": "data preparation",
    "tasks": "formatting",
    "formatting": "formatting",
    "training": "training",
    "tuning.py": "training",
    "evaluation": "evaluation",
    "inference": "inference",
    "exporting": "shipping",
    "reporting": "reporting",
    "cli": "command line",
    "py.typed": "package",
}


def test_no_import_cycles() -> None:
    graph = import_cycles.import_graph()
    assert len(graph) > 50
    assert import_cycles.cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle(tmp_path: Path) -> None:
    pkg = tmp_path / "lmforge"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from lmforge.b import g\n")  # a lazy import counts too
    (pkg / "b.py").write_text("from lmforge import a\n")
    (pkg / "c.py").write_text("import lmforge.a\n")
    graph = import_cycles.import_graph(tmp_path)
    assert import_cycles.cycles(graph) == [["lmforge.a", "lmforge.b"]]


def test_every_module_imports_in_a_fresh_interpreter() -> None:
    names = sorted(n for n in import_cycles.modules() if not n.endswith("__main__"))
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    # one interpreter per module would take minutes; each fresh interpreter imports a slice in sorted order,
    # and the first module of every slice is imported with nothing before it
    for i in range(0, len(names), 25):
        res = subprocess.run([sys.executable, "-c", code, *names[i : i + 25]], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr[-2000:]


def test_public_calls_are_plain_functions_without_module_tricks() -> None:
    code = (
        "import types, lmforge, lmforge.training.run, lmforge.reporting.render, lmforge.tuning\n"
        "assert type(lmforge) is types.ModuleType, type(lmforge)\n"
        "for name in ['prepare', 'train', 'evaluate', 'inspect', 'predict', 'tune', 'report', 'export', 'generate']:\n"
        "    f = getattr(lmforge, name)\n"
        "    assert isinstance(f, types.FunctionType), (name, type(f))\n"
        "print('ok')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


def test_no_module_class_swapping_anywhere() -> None:
    for path in (ROOT / "src" / "lmforge").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert ".__class__ =" not in text, path
        assert "types.ModuleType)" not in text, path


def test_import_lmforge_does_not_import_torch() -> None:
    res = subprocess.run(
        [sys.executable, "-c", "import sys, lmforge, lmforge.cli; print('torch' in sys.modules)"],
        capture_output=True,
        text=True,
    )
    assert res.stdout.strip() == "False", res.stderr[-2000:]


def test_every_top_level_entry_has_a_stage() -> None:
    entries = {p.name for p in (ROOT / "src" / "lmforge").iterdir() if p.name != "__pycache__"}
    assert entries == set(STAGES), entries ^ set(STAGES)
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name in entries - {"__init__.py", "py.typed"}:
        assert f"`{name.removesuffix('.py')}" in doc, f"docs/architecture.md does not place {name}"


def test_no_module_shadows_the_standard_library() -> None:
    shadowed = [
        p
        for p in (ROOT / "src" / "lmforge").rglob("*.py")
        if p.stem in sys.stdlib_module_names and p.stem != "__init__"
    ]
    assert shadowed == []


def test_no_package_shares_a_name_with_a_public_function() -> None:
    import lmforge

    modules = {n.split(".")[1] for n in import_cycles.modules() if n.count(".") >= 1}
    assert modules & set(lmforge.__all__) == set()
    assert isinstance(lmforge.train, types.FunctionType)
