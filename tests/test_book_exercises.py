"""The in-book exercises: every folded solution passes its check cell.

A chapter's exercise is three pieces: an answer cell with a stub (``x = None  # replace``),
a check cell (first line ``# Check`` or ``# Self-check``) that says "Not solved yet" while
the stub is untouched, and a ``{dropdown} Solution`` holding a ``python`` code block. The
built site runs the chapters with the stubs (so learners see the stubs); this test runs
each chapter again with every solution appended to its answer cell, as a learner who
copied the solutions would, and requires every check to pass.
"""

from __future__ import annotations

import re

import jupytext
import pytest
from nbclient import NotebookClient

from paths import ROOT, course_chapters

SOLUTION = re.compile(r"\{dropdown\}\s*Solution.*?```python\n(.*?)```", re.S)


def chapters_with_exercises():
    return [page for page in course_chapters()
            if SOLUTION.search((ROOT / f"{page}.md").read_text(encoding="utf-8"))]


def is_check(cell) -> bool:
    first = cell.source.lstrip().split("\n", 1)[0].lower()
    return cell.cell_type == "code" and first.startswith(("# check", "# self-check"))


def with_solutions(notebook):
    """The notebook with each dropdown's solution appended to the answer cell before its
    check cell; returns it and the number of exercises found."""
    cells, count = notebook.cells, 0
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for solution in SOLUTION.findall(cell.source):
            check = next((k for k in range(index - 1, -1, -1) if is_check(cells[k])), None)
            assert check is not None and check > 0, f"no check cell before: {solution[:60]!r}"
            answer = cells[check - 1]
            assert answer.cell_type == "code" and not is_check(answer), (
                f"the cell before the check {cells[check].source[:60]!r} is not an answer cell")
            answer.source += "\n\n# --- the solution ---\n" + solution
            count += 1
    return notebook, count


@pytest.mark.slow
@pytest.mark.parametrize("page", chapters_with_exercises())
def test_every_solution_passes_its_check(page, tmp_path):
    notebook, count = with_solutions(jupytext.read(ROOT / f"{page}.md"))
    assert count >= 2, f"{page}: expected in-book exercises with solutions, found {count}"
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "book")}}).execute()
    for cell in notebook.cells:
        if not is_check(cell):
            continue
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert "Not solved yet" not in text, f"{page}: a check still says {text!r}"
        assert not any(o.output_type == "error" for o in cell.outputs)


def test_stubs_are_not_solutions():
    """On the page, the answer cells hold stubs: no check cell passes before the learner acts."""
    for page in chapters_with_exercises():
        notebook = jupytext.read(ROOT / f"{page}.md")
        for index, cell in enumerate(notebook.cells):
            if is_check(cell):
                answer = notebook.cells[index - 1].source
                stub_marks = ("None", "replace", "NotImplementedError", "your code")
                assert any(mark.lower() in answer.lower() for mark in stub_marks), (
                    f"{page}: the answer cell before check #{index} looks like a solution:\n"
                    f"{answer[:200]}")
