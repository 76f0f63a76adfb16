"""Points the notebooks at a repository: `python colab/set_repo_url.py OWNER/NAME`.

The repository's address lives in one place, `url` in setup.cfg's [metadata]. This script sets it and
derives from it, in every notebook of colab/, the "Open in Colab" badge and the default of the install
cell's `REPO_URL` form field. A fork runs it once and commits the changed files; `--check` only reports
whether the notebooks agree with setup.cfg (exit status 1 if not). While setup.cfg holds the placeholder
`https://github.com/OWNER/gan_tf`, the form field stays empty, so that the install cell says what to set
instead of trying to install from an address that does not exist.
"""
import argparse
import configparser
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLACEHOLDER = "OWNER/gan_tf"
GITHUB = "https://github.com/"
REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
BADGE = re.compile(r"(https://colab\.research\.google\.com/github/)[^/\s)]+/[^/\s)]+(/blob/)")
FIELD = re.compile(r'^REPO_URL = "[^"\n]*"(  #@param \{type:"string"\})$', re.M)
URL_LINE = re.compile(r"^url[ \t]*=.*$", re.M)


def repository(root=ROOT):
    """OWNER/NAME of setup.cfg's `url` (a GitHub address)."""
    config = configparser.ConfigParser()
    config.read(os.path.join(root, "setup.cfg"), encoding="utf-8")
    url = config.get("metadata", "url", fallback="")
    name = url[len(GITHUB):].rstrip("/") if url.startswith(GITHUB) else ""
    if not REPOSITORY.fullmatch(name):
        raise ValueError(f"setup.cfg: url = {url!r}: expected {GITHUB}OWNER/NAME in [metadata].")
    return name


def set_repository(root, name):
    """Writes `url = https://github.com/<name>` into setup.cfg's [metadata] (after `name =` if it has no url)."""
    path = os.path.join(root, "setup.cfg")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    line = f"url = {GITHUB}{name}"
    if URL_LINE.search(text):
        text = URL_LINE.sub(line, text, count=1)
    else:
        text = re.sub(r"^(\[metadata\]\n(?:.*\n)*?name[ \t]*=.*\n)", lambda m: m.group(1) + line + "\n", text,
                      count=1, flags=re.M)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def notebook_text(path, name):
    """The notebook at `path` with its badge and `REPO_URL` default pointing at `name`, as file text."""
    with open(path, encoding="utf-8") as f:
        notebook = json.load(f)
    default = "" if name == PLACEHOLDER else GITHUB + name
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            source = BADGE.sub(lambda m: f"{m.group(1)}{name}{m.group(2)}", source)
        elif cell["cell_type"] == "code":
            source = FIELD.sub(lambda m: f'REPO_URL = "{default}"{m.group(1)}', source)
        cell["source"] = source.splitlines(keepends=True)
    # The layout nbformat writes (and the notebooks are committed in): one-space indent, a final newline.
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def notebooks(root=ROOT):
    return sorted(glob.glob(os.path.join(root, "colab", "*.ipynb")))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", nargs="?", help="OWNER/NAME of the GitHub repository (default: setup.cfg's)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook disagrees")
    parser.add_argument("--root", default=ROOT, help=argparse.SUPPRESS)  # a copy of the tree, for tests
    args = parser.parse_args(argv)
    if args.repository is not None and not REPOSITORY.fullmatch(args.repository):
        parser.error(f"repository={args.repository!r}: expected OWNER/NAME, e.g. {PLACEHOLDER}")
    if args.check and args.repository is not None:
        parser.error("--check compares the notebooks with setup.cfg: give no repository with it")
    try:
        name = args.repository or repository(args.root)
    except ValueError as error:
        parser.error(str(error))
    if not args.check and args.repository is not None:
        set_repository(args.root, name)
    stale = []
    for path in notebooks(args.root):
        text = notebook_text(path, name)
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                continue
        stale.append(os.path.relpath(path, args.root))
        if not args.check:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if args.check:
        if stale:
            print(f"{', '.join(stale)}: not pointing at {GITHUB}{name} (setup.cfg's url); "
                  "run python colab/set_repo_url.py OWNER/NAME", file=sys.stderr)
        return 1 if stale else 0
    changed = (["setup.cfg"] if args.repository is not None else []) + stale
    print(f"{GITHUB}{name}: " + (f"updated {', '.join(changed)}" if changed else "nothing to change"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
