"""README.md and docs/: a short front page, and commands that parse with the flags they name.

Every `python -m gan_tf...` and `python experiments/....py` command in README.md, docs/*.md and
experiments/benchmarks/README.md is parsed by that command's own flag declarations (absl or argparse,
captured without running the command), so a renamed, removed or mistyped flag fails here.
"""
import glob
import importlib.util
import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTS = sorted(
    [os.path.join(REPO, "README.md"), os.path.join(REPO, "experiments", "benchmarks", "README.md")]
    + glob.glob(os.path.join(REPO, "docs", "*.md"))
)
# Commands documented before their module is in this tree (merged separately).


def _read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _documented_commands(cli):
    found = {}
    for path in DOCUMENTS:
        for target, argv in cli.commands(_read(path)):
            found.setdefault(target, []).append((os.path.relpath(path, REPO), argv))
    return found


def test_readme_is_a_front_page():
    text = _read(os.path.join(REPO, "README.md"))
    assert len(text.splitlines()) <= 300
    fences = [block.split("\n", 1)[1] for block in text.split("```")[1::2]]
    assert "pip install -e \".[cpu]\" && python -m gan_tf.experiments.mnist" in fences[0]
    assert "pip install -e \".[test]\" && python -m pytest" in fences[1]  # .ci/run greps for it
    assert "../" not in text.replace("](../", "")  # no paths outside the repository
    for word in ("issue", "session", "helper"):
        assert word not in text.lower(), word


def test_documents_link_to_files_that_exist():
    import re

    for path in DOCUMENTS:
        for link in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _read(path)):
            if link.startswith("http"):
                continue
            target = os.path.normpath(os.path.join(os.path.dirname(path), link))
            assert os.path.exists(target), f"{os.path.relpath(path, REPO)} links to missing {link}"


def _with_placeholders_filled(argv, directory):
    # PATH, RUN, ~/photos ...: a user's own path; flags that check for an existing one get a real folder.
    def fill(value):
        return directory if (value.isupper() and value.isalpha()) or value.startswith("~/") else value

    filled = []
    for token in argv:
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
            filled.append(f"{name}={fill(value)}")
        else:
            filled.append(fill(token))
    return filled


def test_every_documented_command_parses_with_its_own_flags(cli, monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)  # scripts are documented relative to the repository
    commands = _documented_commands(cli)
    assert "gan_tf.evaluate" in commands and "gan_tf.experiments.mnist" in commands
    problems = []
    for target, uses in sorted(commands.items()):
        if target.endswith(".py"):
            exists = os.path.isfile(os.path.join(REPO, target))
        else:
            exists = importlib.util.find_spec(target) is not None
        if not exists:
            problems.append(f"{target}: no such command ({uses[0][0]})")
            continue
        parse = cli.parser(target)
        for document, argv in uses:
            if any(a in ("--help", "--helpfull", "-h") for a in argv):
                continue
            try:
                parse(_with_placeholders_filled(argv, str(tmp_path)))
            except (Exception, SystemExit) as error:  # noqa: BLE001 - report every bad command at once
                problems.append(f"{document}: {target} {' '.join(argv)}: {type(error).__name__}: {error}")
    assert not problems, "\n".join(problems)


def test_the_check_catches_an_unknown_flag(cli):
    parse = cli.parser("gan_tf.evaluate")
    parse(["--run_dir", "runs/mnist", "--num_samples", "500"])
    with pytest.raises(Exception, match="num_sample"):
        parse(["--run_dir", "runs/mnist", "--num_sample", "500"])
    generate = cli.parser("gan_tf.generate")
    generate(["--run_dir", "runs/mnist", "--n", "4"])
    with pytest.raises(Exception, match="count"):
        generate(["--run_dir", "runs/mnist", "--count", "4"])
