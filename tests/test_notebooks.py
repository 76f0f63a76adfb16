"""Every notebook in colab/: opens in Colab, installs from one REPO_URL, runs top to bottom at tiny
settings, and shows its pictures inline."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from gan_tf import cpu

NOTEBOOKS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "colab", "*.ipynb")))
BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]"
                   r"\(https://colab\.research\.google\.com/github/[^/\s]+/[^/\s]+/blob/[^/\s]+/colab/([^)\s]+)\)")
# The form field's default: empty while setup.cfg's url is the OWNER placeholder, else that address.
REPO_FIELD = re.compile(r'^REPO_URL = "(|https://github\.com/[^/"]+/[^/"]+)"  #@param \{type:"string"\}$', re.M)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SET_REPO_URL = os.path.join(ROOT, "colab", "set_repo_url.py")


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
    assert REPO_FIELD.search(code[0].source)
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


def _set_repo_url(*args, root=ROOT):
    return subprocess.run([sys.executable, SET_REPO_URL, "--root", str(root), *args], capture_output=True,
                          text=True, timeout=60)


def test_the_notebooks_point_where_setup_cfg_says():
    # setup.cfg's url is the one place; the badges and form defaults are derived from it.
    result = _set_repo_url("--check")
    assert result.returncode == 0, result.stderr
    text = open(os.path.join(ROOT, "setup.cfg"), encoding="utf-8").read()
    (url,) = re.findall(r"^url = (https://github\.com/\S+)$", text, re.M)
    for path in NOTEBOOKS:
        first = _read(path).cells[0].source
        assert f"colab.research.google.com/github/{url[len('https://github.com/'):]}/blob/" in first
        assert "set_repo_url.py OWNER/NAME" in first  # the first cell says how a fork sets it


def test_set_repo_url_rewrites_setup_cfg_badges_and_form_defaults_of_a_copy(tmp_path):
    shutil.copy(os.path.join(ROOT, "setup.cfg"), tmp_path / "setup.cfg")
    shutil.copytree(os.path.join(ROOT, "colab"), tmp_path / "colab")
    before = {path: open(path, encoding="utf-8").read() for path in glob.glob(str(tmp_path / "colab" / "*.ipynb"))}
    setup_before = (tmp_path / "setup.cfg").read_text()

    result = _set_repo_url("someone/my-gan_tf.2", root=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "url = https://github.com/someone/my-gan_tf.2\n" in (tmp_path / "setup.cfg").read_text()
    for path, old in before.items():
        notebook, original = nbformat.read(path, as_version=4), nbformat.reads(old, as_version=4)
        name = os.path.basename(path)
        assert ("(https://colab.research.google.com/github/someone/my-gan_tf.2/blob/main/colab/" + name + ")"
                in notebook.cells[0].source)
        assert 'REPO_URL = "https://github.com/someone/my-gan_tf.2"  #@param {type:"string"}' in notebook.cells[1].source
        assert "OWNER/gan_tf/blob" not in notebook.cells[0].source
        changed = [i for i, (a, b) in enumerate(zip(notebook.cells, original.cells)) if a.source != b.source]
        assert changed == [0, 1] and len(notebook.cells) == len(original.cells)  # nothing else touched
    assert _set_repo_url("--check", root=tmp_path).returncode == 0

    # Back to the placeholder: every file as it was, byte for byte (the form field empty again).
    assert _set_repo_url("OWNER/gan_tf", root=tmp_path).returncode == 0
    assert (tmp_path / "setup.cfg").read_text() == setup_before
    for path, old in before.items():
        assert open(path, encoding="utf-8").read() == old

    (tmp_path / "setup.cfg").write_text(setup_before.replace("OWNER/gan_tf", "someone/else"))
    stale = _set_repo_url("--check", root=tmp_path)
    assert stale.returncode == 1 and "not pointing at https://github.com/someone/else" in stale.stderr


@pytest.mark.parametrize("argument", ["not-a-repository", "a/b/c", "-x/y"])
def test_set_repo_url_refuses_what_is_not_owner_slash_name(tmp_path, argument):
    shutil.copy(os.path.join(ROOT, "setup.cfg"), tmp_path / "setup.cfg")
    result = _set_repo_url("--", argument, root=tmp_path) if argument.startswith("-") else \
        _set_repo_url(argument, root=tmp_path)
    assert result.returncode == 2 and "expected OWNER/NAME" in result.stderr
    assert (tmp_path / "setup.cfg").read_text() == open(os.path.join(ROOT, "setup.cfg"), encoding="utf-8").read()


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=os.path.basename)
def test_notebook_runs_and_shows_its_pictures(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_TF_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("GAN_TF_OFFLINE", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the notebook's own inline backend, as in Colab
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)  # a fresh runtime: the notebook chooses
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
    # The oneDNN setting the CLI would choose on this CPU, chosen before the kernel imported TensorFlow.
    [config_path] = glob.glob(str(tmp_path / "runs" / "*" / "config.json"))
    with open(config_path) as f:
        onednn = json.load(f)["resolved"]["onednn"]
    chosen, reason = cpu.choose_onednn(environ={})
    assert onednn["TF_ENABLE_ONEDNN_OPTS"] == chosen and onednn["reason"] == reason
    assert f"TF_ENABLE_ONEDNN_OPTS={chosen} (chosen by {onednn['chosen_by']}: {reason})" in printed
    if chosen == "1":  # e.g. the AVX2 EPYC: TensorFlow would have left oneDNN off, and it is on
        assert onednn["chosen_by"] == "gan_tf" and onednn["enabled"] is True


def _text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")
