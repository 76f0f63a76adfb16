"""Every notebook in colab/: opens in Colab, installs from one REPO_URL, runs top to bottom at tiny
settings, and shows its pictures inline."""
import glob
import os
import re

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "colab", "*.ipynb")))
BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
                   r"\(https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/[^/\s]+/colab/([^)\s]+)\)")
REPO_FIELD = 'REPO_URL = ""  #@param {type:"string"}'


def _read(path):
    return nbformat.read(path, as_version=4)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_is_committed_clean_with_badge_and_one_install_cell(path):
    notebook = _read(path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not any(cell.outputs for cell in code), f"{path} is committed with outputs"
    assert all(cell.execution_count is None for cell in code), f"{path} is committed with execution counts"
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    match = BADGE.search(first.source)
    assert match and match.group(1) == os.path.basename(path), "the badge opens another notebook"
    # The repository's address is asked for once, in the install cell's form, the first code cell.
    assert REPO_FIELD in code[0].source
    assert sum(cell.source.count("REPO_URL =") for cell in code) == 1
    assert "find_spec(\"gan_tf\")" in code[0].source  # skipped where gan_tf is installed (CI)
    assert "YOUR_ORG" not in "".join(cell.source for cell in notebook.cells)
    assert [cell for cell in code if "picture" in cell.metadata.get("tags", [])], "no picture cell"


def test_the_install_cell_says_what_to_set_when_gan_tf_is_missing():
    # Run as Colab would before anything is installed: gan_tf not importable, REPO_URL empty.
    source = _read(NOTEBOOKS[0]).cells[1].source
    namespace = {}
    import importlib.util

    real = importlib.util.find_spec
    try:
        importlib.util.find_spec = lambda name, *args: None if name == "gan_tf" else real(name, *args)
        with pytest.raises(RuntimeError, match="set REPO_URL in the form above"):
            exec(compile(source, "install", "exec"), namespace)
    finally:
        importlib.util.find_spec = real


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_and_shows_its_pictures(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_TF_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("GAN_TF_OFFLINE", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the notebook's own inline backend, as in Colab
    notebook = _read(path)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for cell in notebook.cells for o in cell.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    assert "gan_tf is already installed" in _text(notebook.cells[1])
    for cell in notebook.cells:
        if "picture" in cell.metadata.get("tags", []):
            kinds = [o.get("data", {}) for o in cell.outputs if o.output_type in ("display_data", "execute_result")]
            assert any("image/png" in data for data in kinds), f"no image/png output from:\n{cell.source}"
    printed = "".join(_text(cell) for cell in notebook.cells)
    assert "data: " in printed and "images of shape (28, 28, 1)" in printed  # which data it used
    assert glob.glob(str(tmp_path / "runs" / "*" / "samples" / "final.png"))


def _text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")
