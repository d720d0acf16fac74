"""Shared fixtures (the repository root, one book build per test session) and the test
tiers: a test is ``slow`` when it is marked so, when it uses the built book, or when its
module is listed in SLOW_MODULES; ``make test-fast`` runs ``-m "not slow"``.

The executed site is built once per session (``built_book``) and shared by every test that
needs it; ``SNNLEARN_BOOK_HTML`` points them at a build made before (e.g. by ``make book``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from paths import ROOT

BIN = Path(sys.executable).parent

# Tests are marked slow one by one (@pytest.mark.slow), so that a file's pure checks stay in
# `make test-fast`; a test that uses the built book is slow without a mark. The grading
# tests (issue 16 redesigns them) are still slow as a whole file.
SLOW_MODULES = {
    "test_exercises.py": "grades scratch courses with nbgrader",
}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """The built site (``.../_build/html``), built once per session into a scratch folder.

    Set ``SNNLEARN_BOOK_HTML`` to an existing ``_build/html`` to reuse a build (e.g. the
    one ``make book`` just made) instead of building again.
    """
    prebuilt = os.environ.get("SNNLEARN_BOOK_HTML")
    if prebuilt:
        html = Path(prebuilt)
        if not (html / "index.html").is_file():
            pytest.fail(f"SNNLEARN_BOOK_HTML={prebuilt} has no index.html")
        return html
    out = tmp_path_factory.mktemp("book")
    command = [str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output", str(out),
               "-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    log = out / "build.log"
    log.write_text(result.stdout + "\n" + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        pytest.fail(f"the book build failed (rc={result.returncode}); log {log}:\n{tail}")
    return out / "_build" / "html"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "built_book" in getattr(item, "fixturenames", ()) or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def pytest_report_header(config):
    return f"snnlearn repo: {ROOT}"


