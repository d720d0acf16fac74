"""The in-book exercises: every folded solution passes its check cell.

A chapter's exercise is an answer cell with a stub, a check cell that says "Not solved
yet" while the stub is untouched, and a ``{dropdown} Solution`` (tests/chapter_runs.py).
The built site runs the chapters with the stubs (so learners see the stubs); here each
exercise's solution, appended to its answer cell, and its check run in the chapter's kernel
after the published cells (the session's one run of each chapter, ``chapter_runs``, whose
published part the book build reuses), and every check must pass.
"""

from __future__ import annotations

import pytest

from chapter_runs import check_text, exercises, has_exercises, is_check, published_notebook
from paths import course_chapters


def chapters_with_exercises():
    return [page for page in course_chapters() if has_exercises(page)]


@pytest.mark.slow
@pytest.mark.parametrize("page", chapters_with_exercises())
def test_every_solution_passes_its_check(page, chapter_runs):
    run = chapter_runs[page]
    assert run.error is None, f"{page}: the published chapter failed: {run.error}"
    assert len(run.solved) >= 2, (
        f"{page}: expected in-book exercises with solutions, found {len(run.solved)}")
    for answer, check in run.solved:
        errors = [o for cell in (answer, check) for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{page}: {errors[0].ename}: {errors[0].evalue} in\n{answer.source}"
        text = check_text(check)
        assert "Not solved yet" not in text, f"{page}: a check still says {text!r}"


def test_stubs_are_not_solutions():
    """On the page, the answer cells hold stubs: no check cell passes before the learner acts."""
    for page in chapters_with_exercises():
        notebook = published_notebook(page)
        assert exercises(notebook), page
        for index, cell in enumerate(notebook.cells):
            if is_check(cell):
                answer = notebook.cells[index - 1].source
                stub_marks = ("None", "replace", "NotImplementedError", "your code")
                assert any(mark.lower() in answer.lower() for mark in stub_marks), (
                    f"{page}: the answer cell before check #{index} looks like a solution:\n"
                    f"{answer[:200]}")
