"""Helpers shared by the grading tests (tests/test_exercises.py, tests/test_grading_*.py).

One place for: the exercises modules (loaded once, under one name, by ``paths.load_module``),
the submissions a test class is made of (reference, untouched, one per catalogued mistake
in tests/mistakes/<assignment>.py), checksums of course folders, and ``judge_in_process``:
the verdict design (exercises/verdict.py) run without a kernel, for authoring checks.

>>> sorted(MISTAKES) == sorted(ASSIGNMENTS)
True
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import re
import secrets
from pathlib import Path
from typing import Dict, Optional

import nbformat

from paths import EXERCISES, ROOT, load_module

build_sources = load_module(EXERCISES / "build_sources.py")
grading = load_module(EXERCISES / "grading.py")
verdict = grading.sandbox.verdict
# One list of assignments: the folders of exercises/source (as the Makefile's).
ASSIGNMENTS = build_sources.assignments(EXERCISES)
MISTAKES_DIR = ROOT / "tests" / "mistakes"
STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def solution_text(source: str) -> str:
    """A solution cell as a learner would have it: without the nbgrader markers."""
    return "\n".join(line for line in source.split("\n")
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


def stub_text(source: str) -> str:
    """A solution cell as nbgrader releases it: each solution region replaced by the stub."""
    out, inside = [], False
    for line in source.split("\n"):
        if "### BEGIN SOLUTION" in line:
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub for stub in STUB.split("\n"))
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def load_mistakes(assignment: str) -> dict:
    """tests/mistakes/<assignment>.py's MISTAKES, or {} if there is none. Each entry edits
    one solution cell of the reference (``cell`` and ``edits`` [(old, new)] or ``source``);
    the submission must lose points in the test cell ``caught_by`` and its feedback must
    show ``feedback``."""
    path = MISTAKES_DIR / f"{assignment}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"_mistakes_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MISTAKES


MISTAKES = {a: load_mistakes(a) for a in ASSIGNMENTS}
MISTAKE_CASES = [(a, m) for a in ASSIGNMENTS for m in sorted(MISTAKES[a])]


def edited_source(source: str, cell_id: str, replacements=None, new_source=None) -> str:
    if new_source is not None:
        source = new_source
    for old, new in replacements or []:
        assert old in source, f"the reference {cell_id} no longer contains {old!r}"
        source = source.replace(old, new)
    return source


def edit_cell(nb, cell_id: str, replacements=None, source=None) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    (cell,) = [c for c in nb.cells if grade_id(c) == cell_id]
    cell.source = edited_source(cell.source, cell_id, replacements, source)
    return nb


def reference_submission(course: Path, assignment: str) -> nbformat.NotebookNode:
    """The student version with every solution cell filled in from the source notebook."""
    source = nbformat.read(course / "source" / assignment / f"{assignment}.ipynb", 4)
    release = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", 4)
    solutions = {grade_id(c): c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in release.cells:
        if grade_id(cell) in solutions:
            cell.source = solution_text(solutions[grade_id(cell)])
    return release


def mistake_submission(reference, mistake: dict) -> nbformat.NotebookNode:
    return edit_cell(reference, mistake["cell"], mistake.get("edits"), mistake.get("source"))


def checksums(root: Path, folders) -> dict:
    """{relative path: sha256} of every regular file under root/<folder> for each folder."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted((root / folder).rglob("*")) if p.is_file()}


def source_cells_md(assignment: str):
    """The cells of an assignment's Jupytext source (no build needed)."""
    import jupytext

    return jupytext.read(EXERCISES / "source" / assignment / f"{assignment}.md").cells


# --- the verdict design without a kernel (authoring checks; no sandbox: trusted code) ----

def judge_in_process(cells, answers: Optional[Dict[str, str]] = None,
                     seed: Optional[int] = None) -> Dict[str, "verdict.Verdict"]:
    """Run a source notebook's cells as the grading does, in this process: set-up and answer
    cells (``answers``: {grade_id: source}; default: the reference solutions) and each test
    cell's inputs and calls in a "kernel" namespace, the results through the kernel's
    encoder, JSON and the grader's decoder, and the checks in ``verdict.Grader``.
    {grade_id of each test cell: Verdict}. For the course's own code only: nothing here is
    sandboxed."""
    import json

    import IPython.display

    seed = secrets.randbelow(2**31) if seed is None else seed
    answers = answers if answers is not None else {
        grade_id(c): solution_text(c.source) for c in cells
        if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    tests = {t.index: t for t in verdict.plan(cells)}
    ns: dict = {"__name__": "__main__"}
    sent: Dict[int, Dict[int, dict]] = {}
    current = [None]

    def publish(data):
        found = verdict.parse_result({"data": json.loads(json.dumps(data))})
        if found is not None:
            sent.setdefault(current[0], {}).setdefault(found[0], found[1])

    ns["get_ipython"] = lambda: type("Shell", (), {"user_ns": ns})()
    saved = IPython.display.publish_display_data
    IPython.display.publish_display_data = publish
    try:
        exec(verdict.prelude_source(seed), ns)
    finally:
        IPython.display.publish_display_data = saved
    errors: Dict[int, tuple] = {}
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if index in tests:
            code = verdict.kernel_source(tests[index])
        elif meta.get("solution"):
            code = answers.get(grade_id(cell), cell.source)
        else:
            code = cell.source
        current[0] = index
        try:
            exec(compile(code, f"<cell {grade_id(cell) or index}>", "exec"), ns)
        except BaseException as error:  # noqa: BLE001  (the cell's error, as a kernel's)
            errors[index] = (type(error).__name__, str(error))
    grader = verdict.Grader(seed)
    out = {}
    for index, cell in enumerate(cells):
        if verdict.is_setup_cell(cell):
            grader.run_setup(cell.source, grade_id(cell) or f"#{index}")
        elif index in tests:
            out[tests[index].grade_id] = grader.judge(tests[index], sent.get(index, {}),
                                                      errors.get(index))
    return out


def answers_of(cells, mistake: Optional[dict] = None, untouched: bool = False) -> Dict[str, str]:
    """{grade_id: source} of the answer cells: the reference, the released stubs, or the
    reference with one catalogued mistake."""
    out = {}
    for cell in cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            out[grade_id(cell)] = (stub_text if untouched else solution_text)(cell.source)
    if mistake is not None:
        out[mistake["cell"]] = edited_source(out[mistake["cell"]], mistake["cell"],
                                             mistake.get("edits"), mistake.get("source"))
    return out


def points_of(cells) -> Dict[str, float]:
    return {grade_id(c): float(c.metadata["nbgrader"].get("points", 0)) for c in cells
            if verdict.is_test_cell(c)}


def _main(argv=None) -> int:
    """python tests/grading_helpers.py <assignment> [mistake ...]: the in-process verdicts of
    the reference, the untouched version and each catalogued mistake (authoring aid)."""
    import sys
    import time

    args = list(argv if argv is not None else sys.argv[1:])
    assignment, only = args[0], set(args[1:])
    cells = source_cells_md(assignment)
    points = points_of(cells)
    cases = [("reference", answers_of(cells)), ("untouched", answers_of(cells, untouched=True))]
    cases += [(name, answers_of(cells, spec)) for name, spec in MISTAKES[assignment].items()]
    status = 0
    for name, answers in cases:
        if only and name not in only:
            continue
        started = time.perf_counter()
        verdicts = judge_in_process(cells, answers)
        score = sum(points[g] for g, v in verdicts.items() if v.passed)
        failed = {g: f"{v.ename}: {v.evalue}" for g, v in verdicts.items() if not v.passed}
        print(f"== {name}: {score}/{sum(points.values())} "
              f"({time.perf_counter() - started:.1f} s)")
        spec = MISTAKES[assignment].get(name)
        if spec:
            caught = spec["caught_by"] in failed and spec["feedback"] in failed[spec["caught_by"]]
            print("   caught:", caught)
            status |= not caught
        if name == "reference":
            status |= bool(failed)
        if name == "untouched":
            status |= score != 0
        for g, why in failed.items():
            if name != "untouched":
                print(f"   {g}: {why[:150]}")
    return status


if __name__ == "__main__":
    raise SystemExit(_main())
