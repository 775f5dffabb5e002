"""examples/quickstart.ipynb runs top to bottom (nbclient) on the tiny model, the way CI runs it."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"


def test_quickstart_notebook_runs_on_the_tiny_model(tiny_llama: str, tmp_path: Path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setenv("LMFORGE_NB_MODEL", tiny_llama)
    monkeypatch.setenv("LMFORGE_NB_STEPS", "2")
    monkeypatch.setenv("LMFORGE_NB_OUT", str(out))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # cwd = examples/, as when a user opens the notebook there; outputs go to tmp_path through LMFORGE_NB_OUT
    NotebookClient(
        nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()

    text = "\n".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
    )
    assert "accounting ok: True" in text
    assert "fine-tuned" in text and "exact_match" in text
    assert text.count("Q: ") == 3
    assert (out / "final").is_dir() and (out / "eval.json").is_file()
    assert not any(o.get("output_type") == "error" for c in nb.cells for o in c.get("outputs", []))
