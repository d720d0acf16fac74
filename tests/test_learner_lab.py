"""The learner's JupyterLab: `.venv/bin/jupyter lab` after `make book` (README, intro).

The course install (requirements.txt, all that `make book` installs) brings JupyterLab and
no nbgrader. `make install` adds nbgrader to the same .venv for tests and instructors and
switches off its Lab menus and server extensions there (Makefile), so the Lab a learner or
developer opens shows the course only (`make instructor-lab` turns them back on).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r"):
            names |= requirement_names(path.parent / line[2:].strip())
        elif line and not line.startswith("-"):
            names.add(re.split(r"[<>=!~\[; @]", line)[0].lower())
    return names


def test_course_install_has_jupyterlab_and_no_nbgrader():
    names = requirement_names(ROOT / "requirements.txt")
    assert {"jupyterlab", "jupyterlab-myst", "jupytext", "ipykernel"} <= names
    assert "nbgrader" not in names, "nbgrader's menus would appear in the learners' Lab"
    makefile = (ROOT / "Makefile").read_text()
    book_rule = re.search(r"^\$\(COURSE\):.*?(?=^\S)", makefile, re.M | re.S).group(0)
    assert "requirements.txt" in book_rule and "requirements-dev" not in book_rule


@pytest.mark.slow
def test_nbgrader_interface_is_off_in_the_shared_venv():
    try:
        import nbgrader  # noqa: F401
    except ImportError:
        pytest.skip("nbgrader is not installed here (a learner's .venv)")
    jupyter = str(BIN / "jupyter")
    servers = subprocess.run([jupyter, "server", "extension", "list"], capture_output=True,
                             text=True, timeout=300)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", servers.stdout + servers.stderr)
    nbgrader_lines = [line.strip() for line in listing.splitlines()
                      if line.strip().startswith("nbgrader.") and "abled" in line]
    assert nbgrader_lines, listing
    assert all(line.endswith("disabled") for line in nbgrader_lines), nbgrader_lines
    labs = subprocess.run([jupyter, "labextension", "list"], capture_output=True, text=True,
                          timeout=300)
    listing = re.sub(r"\x1b\[[0-9;]*m", "", labs.stdout + labs.stderr)
    line = next(line for line in listing.splitlines() if "@jupyter/nbgrader" in line)
    assert "disabled" in line, line
