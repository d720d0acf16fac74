"""`make autograde` as an ordinary user: a user created for the test (no home, no groups)
runs the Makefile's target on a scratch repository (the Makefile, a link to this .venv, and
a generated course with one submission it owns) and grades it, each kernel in the sandbox,
as it would as root. Needs root to create the user; skipped otherwise (with one line). The
user and its repository: tests/grading_user.py.
"""

from __future__ import annotations

import re

import pytest

from grading_helpers import generated_course, reference_submission
from grading_user import ASSIGNMENT, course_of_the_grading_user, make_user, skip_without_root


@pytest.mark.slow
def test_make_autograde_works_as_an_unprivileged_user(tmp_path_factory):
    skip_without_root()
    honest = reference_submission(generated_course(tmp_path_factory), ASSIGNMENT)
    with course_of_the_grading_user(tmp_path_factory, "unprivileged", {"ada": honest}) as (
            repo, make):
        result = make("autograde", f"ASSIGNMENT={ASSIGNMENT}", "JOBS=1")
        out = result.stdout + result.stderr
        assert result.returncode == 0, out[-3000:]
        assert re.search(r"ada\s+GRADED\s+(\d+(?:\.\d+)?)/\1\b", out), out[-3000:]
        graded = repo / "exercises" / "autograded" / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        assert graded.stat().st_uid == make_user().pw_uid  # written by the user, not by root
