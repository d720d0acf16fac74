"""A user created for the grading tests, and a scratch repository it owns.

Shared by tests/test_grading_unprivileged.py (`make autograde` as an ordinary user) and
tests/test_grading_limits.py (a fork bomb beside an honest student, as that user). Needs
root to create the user; ``skip_without_root`` skips with one line otherwise.

The course's interpreter must be one the grading user can run: a Python installed under
root's home (pyenv in /root, mode 0700, as on the CI machines) is not. An instructor installs
Python where the grading user can reach it; ``course_of_the_grading_user`` instead lets the
user traverse (o+x, no listing) the folders above the interpreter for its duration, and
restores their modes.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from grading_helpers import copy_of_generated, require_sandbox
from paths import ROOT

USER = "snnlearn-grader-test"
ASSIGNMENT = "pytorch_basics"


def interpreter_folders_closed_to_others(python: Path) -> list:
    """The folders above ``python`` (its real path) that other users cannot traverse."""
    closed = []
    for folder in Path(os.path.realpath(python)).parents:
        if not os.stat(folder).st_mode & 0o001:
            closed.append(folder)
    return closed


def make_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        USER], check=True, capture_output=True)
        return pwd.getpwnam(USER)


def skip_without_root() -> None:
    if os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("runuser") is None:
        pytest.skip("creating a user for the test needs root (useradd, runuser)")


@contextlib.contextmanager
def course_of_the_grading_user(tmp_path_factory, name: str, submissions: dict):
    """A scratch repository (the Makefile, a link to this .venv, a generated course with
    ``submissions``: {student: notebook}) owned by the created user, whose interpreter
    folders the user may traverse for the duration. Yields (repo, make), where
    ``make(*args)`` runs ``make -C repo ...`` as the user and returns the CompletedProcess.
    Skips where bubblewrap cannot make a sandbox (``make autograde`` grades in one), unless
    SNNLEARN_REQUIRE_SANDBOX is set."""
    skip_without_root()
    require_sandbox()
    user = make_user()
    course = copy_of_generated(tmp_path_factory, name)
    for student, nb in submissions.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    # Not under pytest's folder (0700 for root): the user must be able to reach it.
    repo = Path(tempfile.mkdtemp(prefix="snnlearn-unprivileged-"))
    opened = {folder: os.stat(folder).st_mode & 0o7777
              for folder in interpreter_folders_closed_to_others(ROOT / ".venv" / "bin" / "python")}
    try:
        for folder, mode in opened.items():
            os.chmod(folder, mode | 0o001)
        os.chmod(repo, 0o755)
        shutil.copy(ROOT / "Makefile", repo / "Makefile")
        os.symlink(ROOT / ".venv", repo / ".venv")
        shutil.copytree(course, repo / "exercises", symlinks=True)
        for path in [repo, *(repo / "exercises").rglob("*"), repo / "exercises"]:
            os.lchown(path, user.pw_uid, user.pw_gid)

        def make(*args: str, **variables: str) -> subprocess.CompletedProcess:
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(repo),
                   "LANG": "C.UTF-8", "SNNLEARN_CELL_TIMEOUT": "60", **variables}
            # -o: the .venv is installed already (its stamp would look older than the copies).
            return subprocess.run(["runuser", "-u", USER, "--", "make", "-C", str(repo), "-o",
                                   ".venv/.dev-installed", *args],
                                  capture_output=True, text=True, env=env, timeout=900)

        yield repo, make
    finally:
        for folder, mode in opened.items():
            os.chmod(folder, mode)
        shutil.rmtree(repo, ignore_errors=True)
