"""Helpers shared by the grading tests (tests/test_exercises.py, tests/test_grading_*.py).

One place for: the exercises modules (loaded once, under one name, by ``paths.load_module``),
the submissions a test class is made of (reference, untouched, one per catalogued mistake
in tests/mistakes/<assignment>.py), checksums of course folders, and ``judge_in_process``:
the verdict design (exercises/verdict.py) run without a kernel, for authoring checks.

>>> sorted(MISTAKES) == sorted(ASSIGNMENTS)
True
"""

from __future__ import annotations

import contextlib
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


# --- the verdict design without nbgrader (authoring checks and the mistakes catalog) ------
#
# The learner's side runs in a process of its own (``learner_side``: set-up, answer and test
# cells' inputs and calls, the kernel's own encoder; trusted course code, so no sandbox) and
# writes what the kernel would send; the grader's side (``grader_side``, in the caller's
# process) decodes it and runs the checks in ``verdict.Grader``, as a graded submission's.

def _runs_of(cells, mistakes: Dict[str, dict]):
    """The runs of one learner process: the reference notebook, then for each mistake its
    edited answer cell and the test cells from that cell up to its ``caught_by`` (what the
    mistake can change), then the reference answer again. [(label, [(index, source)])]."""
    answers = answers_of(cells)
    index_of = {grade_id(c): k for k, c in enumerate(cells)}
    tests = {t.index: t for t in verdict.plan(cells)}

    def source(k, cell):
        if k in tests:
            return verdict.kernel_source(tests[k])
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            return answers[grade_id(cell)]
        return cell.source

    runs = [("reference", [(k, source(k, c)) for k, c in enumerate(cells)
                           if c.get("cell_type") == "code"])]
    for name, spec in mistakes.items():
        where, until = index_of[spec["cell"]], index_of[spec["caught_by"]]
        edited = answers_of(cells, spec)[spec["cell"]]
        steps = [(where, edited)] + [(k, source(k, cells[k])) for k in range(where + 1, until + 1)
                                     if k in tests]
        runs.append((name, steps + [(where, answers[spec["cell"]])]))
    return runs


def learner_side(assignment: str, runs, out_path: Path, seed: int) -> None:
    """Run ``runs`` (see _runs_of) in this process as the learner's kernel would; write one
    JSON line per executed cell: {run, index, sent: {part: payload}, error}."""
    import json

    import IPython.display

    ns: dict = {"__name__": "__main__"}
    sent: Dict[int, dict] = {}

    def publish(data):
        found = verdict.parse_result({"data": json.loads(json.dumps(data))})
        if found is not None:
            sent.setdefault(found[0], found[1])

    ns["get_ipython"] = lambda: type("Shell", (), {"user_ns": ns})()
    saved = IPython.display.publish_display_data
    IPython.display.publish_display_data = publish
    try:
        exec(verdict.prelude_source(seed), ns)
    finally:
        IPython.display.publish_display_data = saved
    with open(out_path, "w", encoding="utf-8") as out:
        for label, steps in runs:
            for index, code in steps:
                sent.clear()
                error = None
                try:
                    exec(compile(code, f"<{assignment} cell {index}>", "exec"), ns)
                except BaseException as exc:  # noqa: BLE001  (the cell's error, as a kernel's)
                    error = [type(exc).__name__, str(exc)[:2000]]
                out.write(json.dumps({"run": label, "index": index, "sent": dict(sent),
                                      "error": error}) + "\n")
                out.flush()


def grader_side(cells, lines, seed: int) -> Dict[str, Dict[str, "verdict.Verdict"]]:
    """{run: {grade_id: Verdict}} from the learner side's lines: set-up cells run once in
    one ``verdict.Grader``, then every test cell the runs executed, in their order."""
    tests = {t.index: t for t in verdict.plan(cells)}
    grader = verdict.Grader(seed)
    for index, cell in enumerate(cells):
        if verdict.is_setup_cell(cell):
            grader.run_setup(cell.source, grade_id(cell) or f"#{index}")
    out: Dict[str, Dict[str, "verdict.Verdict"]] = {}
    for line in lines:
        test = tests.get(line["index"])
        if test is None:
            continue
        sent = {int(part): payload for part, payload in line["sent"].items()}
        error = tuple(line["error"]) if line["error"] else None
        out.setdefault(line["run"], {})[test.grade_id] = grader.judge(test, sent, error)
    return out


def judge_catalog(assignment: str, mistakes: Optional[Dict[str, dict]] = None,
                  timeout: float = 1800) -> Dict[str, Dict[str, "verdict.Verdict"]]:
    """The reference and every catalogued mistake of ``assignment``, in one learner process,
    judged here: {"reference" or mistake: {grade_id: Verdict}}."""
    import json
    import subprocess
    import sys
    import tempfile

    mistakes = MISTAKES[assignment] if mistakes is None else mistakes
    seed = secrets.randbelow(2**31)
    with tempfile.TemporaryDirectory(prefix=f"catalog-{assignment}-") as scratch:
        out = Path(scratch) / "sent.jsonl"
        names = ",".join(mistakes)
        result = subprocess.run(
            [sys.executable, str(Path(__file__)), "--learner", assignment, str(out), str(seed),
             names], cwd=scratch, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"the learner side of {assignment} failed:\n"
                               f"{result.stderr[-3000:]}")
        lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    return grader_side(source_cells_md(assignment), lines, seed)


def judge_in_process(cells, answers: Optional[Dict[str, str]] = None,
                     seed: Optional[int] = None) -> Dict[str, "verdict.Verdict"]:
    """One notebook (``answers``: {grade_id: source} of its answer cells; default: the
    reference) through both sides in this process: {grade_id: Verdict}."""
    import json
    import tempfile

    seed = secrets.randbelow(2**31) if seed is None else seed
    steps = []
    tests = {t.index: t for t in verdict.plan(cells)}
    for k, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        if k in tests:
            steps.append((k, verdict.kernel_source(tests[k])))
        elif cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            steps.append((k, (answers or {}).get(grade_id(cell), solution_text(cell.source))))
        else:
            steps.append((k, cell.source))
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "sent.jsonl"
        learner_side("notebook", [("run", steps)], out, seed)
        lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    return grader_side(cells, lines, seed).get("run", {})


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


# --- the graded class: one scratch course, one autograde run, shared by the test modules ---

# Cell limits while testing: short, so that the infinite loop and the stubborn kernel cost
# little; set-up and training cells keep their long limit (nbgrader_config.LONG_CELLS).
CELL_TIMEOUT = "12"
INTERRUPT_GRACE = "5"
# Submissions per nbgrader run: saves nbgrader's start-up (each kernel is still sandboxed).
GRADING_BATCH = 4
# The late-penalty class (pytorch_basics): due date, penalty, and the instructor-side times.
LATE_ASSIGNMENT = "pytorch_basics"
DUE = "2026-03-01 12:00:00 UTC"
LATE_PENALTY = "1.5"
ON_TIME = "2026-03-01 09:00:00 UTC"
LATE_TIME = "2026-03-03 13:00:00 UTC"   # 2 days and 1 hour late: 3 started days

# Hostile submissions (spiking_neurons): each one the same wrong lif_step, with a trick.
WRONG_LIF = (
    "def lif_step(x, state, p=LIFParameters(), dt=0.001):\n"
    "    zero = torch.zeros_like(x)\n"
    "    return zero, LIFFeedForwardState(zero, zero)\n")
TRICKS = {
    "patches_allclose": "torch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n",
    "self_restoring_patch": (
        "_real = torch.allclose\n"
        "def _once(*a, **k):\n"
        "    torch.allclose = _real\n"
        "    return True\n"
        "torch.allclose = _once\n"),
    "hides_errors": ("ip = get_ipython()\n"
                     "ip.showtraceback = lambda *a, **k: None\n"
                     "ip._showtraceback = lambda *a, **k: None\n"),
    "replaces_run_cell": (
        "ip = get_ipython()\n"
        "_orig = ip.run_cell_async\n"
        "async def _skip(raw_cell, *a, **k):\n"
        "    return await _orig('pass' if 'assert' in raw_cell else raw_cell, *a, **k)\n"
        "ip.run_cell_async = _skip\n"
        "ip.should_run_async = lambda *a, **k: True\n"),
    "rewrites_test_cells": (
        "get_ipython().input_transformers_post.append(\n"
        "    lambda lines: [l for l in lines if 'assert' not in l])\n"),
    "patches_assertion_error": (
        "import builtins\n"
        "class _Quiet(Exception):\n    pass\n"
        "builtins.AssertionError = _Quiet\n"
        "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n"),
    "sets_a_trace": (
        "import sys\n"
        "def _tracer(frame, event, arg):\n    return None\n"
        "sys.settrace(_tracer)\n"),
    "fakes_proof_output": (
        "ip = get_ipython()\n"
        "ip.showtraceback = lambda *a, **k: print('SNNLEARN-PROOF 3 ' + '0' * 32)\n"),
    "exits_the_kernel": "import atexit, os\natexit.register(lambda: os._exit(0))\nos._exit(0)\n",
}
VANDAL = """
import glob, os, shutil
seen = []
course = {course!r}
for path in [course + '/gradebook.db', course + '/source', course + '/submitted',
             {repo!r} + '/README.md', {repo!r} + '/exercises/source']:
    if os.path.exists(path):
        seen.append(path)
try:
    open(course + '/gradebook.db', 'w').close()
except OSError as error:
    print('could not empty the gradebook:', type(error).__name__)
for notebook in glob.glob(course + '/submitted/*/*/*.ipynb'):
    try:
        open(notebook, 'w').write('{{}}')
    except OSError as error:
        print('could not overwrite', type(error).__name__)
try:
    shutil.copytree(course + '/source', 'stolen_source')
except OSError as error:
    print('could not copy source/:', type(error).__name__)
print('FOUND' if seen else 'nothing to see', seen, os.listdir('.'))
"""
STUBBORN = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"


def sandbox_available() -> bool:
    """Whether bubblewrap can make a sandbox here; if not, the workflow is tested without
    one (one line says so), unless SNNLEARN_REQUIRE_SANDBOX (set by .ci/run) is set."""
    import os
    import sys

    import pytest

    try:
        grading.sandbox.check_sandbox()
        return True
    except grading.sandbox.SandboxUnavailable as error:
        if os.environ.get("SNNLEARN_REQUIRE_SANDBOX"):
            pytest.fail(f"SNNLEARN_REQUIRE_SANDBOX is set but {error}")
        print(f"\ngrading tested WITHOUT a sandbox: {error}", file=sys.stderr)
        return False


def require_sandbox() -> None:
    """Skip the calling test (one line says why) where bubblewrap cannot make a sandbox;
    fail instead where SNNLEARN_REQUIRE_SANDBOX (set by .ci/run) is set."""
    import os

    import pytest

    try:
        grading.sandbox.check_sandbox()
    except grading.sandbox.SandboxUnavailable as error:
        if os.environ.get("SNNLEARN_REQUIRE_SANDBOX"):
            pytest.fail(f"SNNLEARN_REQUIRE_SANDBOX is set but {error}")
        pytest.skip(f"no sandbox: {error}")


# Fork until the process limit (then wait): with one process budget for all kernels, this
# failed the students graded beside it.
FORK_BOMB = (
    "import os, time\n"
    "_kids = 0\n"
    "try:\n"
    "    for _ in range(100000):\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(60)\n"
    "            os._exit(0)\n"
    "        _kids += 1\n"
    "except OSError:\n"
    "    pass\n"
    "print('forked', _kids)\n")


def class_of_submissions(course: Path, sandboxed: bool = True) -> dict:
    """{assignment: {student_id: notebook or raw text}}: the reference and the untouched
    version of every assignment; on spiking_neurons a wrong lif_step alone and with each
    trick, a vandal (sandboxed only), an infinite loop, a syntax error and a corrupted file;
    on pytorch_basics a kernel that ignores the interrupt, a student who edits a test cell,
    and the reference handed in on time and late. (The mistakes catalog is judged apart:
    ``judge_catalog``.)"""
    refs = {a: reference_submission(course, a) for a in ASSIGNMENTS}
    untouched = {a: nbformat.read(course / "release" / a / f"{a}.ipynb", 4) for a in ASSIGNMENTS}
    students = {a: {"reference": refs[a], "untouched": untouched[a]} for a in ASSIGNMENTS}
    spiking = refs["spiking_neurons"]
    group = students["spiking_neurons"]
    group["wrong_lif"] = edit_cell(spiking, "lif_step", source=WRONG_LIF)
    for name, trick in TRICKS.items():
        group[name] = edit_cell(spiking, "lif_step", source=trick + WRONG_LIF)
    firing = next(c.source for c in spiking.cells if grade_id(c) == "firing_rate")
    if sandboxed:  # without a sandbox the vandal would really wreck the scratch course
        vandal = VANDAL.format(course=str(course), repo=str(ROOT))
        group["vandal"] = edit_cell(spiking, "firing_rate", source=vandal + "\n" + firing)
    group["infinite_loop"] = edit_cell(spiking, "firing_rate",
                                       source="while True:\n    pass\n\n" + firing)
    group["syntax_error"] = edit_cell(spiking, "simulate", [("dt=0.001):", "dt=0.001)")])
    text = nbformat.writes(spiking)
    group["corrupted_json"] = text[: len(text) // 2]
    basics = refs["pytorch_basics"]
    students["pytorch_basics"]["stubborn_kernel"] = edit_cell(basics, "build_network",
                                                              source=STUBBORN)
    tampered = edit_cell(basics, "make_tensor",
                         source="def make_tensor():\n    return torch.zeros(2, 2, 2)")
    students["pytorch_basics"]["tampered"] = edit_cell(tampered, "make_tensor_values",
                                                       source="pass")
    students[LATE_ASSIGNMENT]["ontime"] = refs[LATE_ASSIGNMENT]
    students[LATE_ASSIGNMENT]["late"] = refs[LATE_ASSIGNMENT]
    return students


def write_downloads(downloads: Path, assignment: str, students: dict) -> Optional[Path]:
    """One folder <student>/ per student, except the reference, sent as <student>.zip, and
    (the late-penalty class) ``late``: a zip whose entry claims 2020 (the student sets that
    date: it counts for nothing). Returns the LMS export of submission times for the late
    class (every student but ``ontime``, whose download's own time is used), else None."""
    import datetime
    import os
    import zipfile

    downloads.mkdir(parents=True, exist_ok=True)
    for student, nb in students.items():
        text = nb if isinstance(nb, str) else nbformat.writes(nb)
        if student in ("reference", "late"):
            with zipfile.ZipFile(downloads / f"{student}.zip", "w") as archive:
                archive.writestr(zipfile.ZipInfo(f"work/{assignment}.ipynb", (2020, 1, 1, 0, 0, 0)),
                                 text)
        else:
            folder = downloads / student
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{assignment}.ipynb").write_text(text, encoding="utf-8")
    if "ontime" not in students:
        return None
    early = datetime.datetime(2026, 3, 1, 9, 0, tzinfo=datetime.timezone.utc).timestamp()
    os.utime(downloads / "ontime", (early, early))
    times = downloads.parent / f"{assignment}_times.csv"
    rows = [f"{s},{LATE_TIME if s == 'late' else ON_TIME}" for s in students if s != "ontime"]
    times.write_text("student_id,submitted_at\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return times


def per_cell_scores(course: Path, assignments=None) -> dict:
    """{(student, assignment): {grade_id: (score, max_score)}} from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
        for assignment in assignments or ASSIGNMENTS:
            for student in gb.students:
                try:
                    nb = gb.find_submission_notebook(assignment, assignment, student.id)
                except MissingEntry:
                    continue
                out[(student.id, assignment)] = {
                    g.name: (float(g.score), float(g.max_score)) for g in nb.grades}
    return out


def gradebook_digest(course: Path, assignments=None) -> Dict[str, str]:
    """{student: sha256 of everything the gradebook holds about them} (scores, comments,
    late penalty, timestamp of every submission): what a grading run must never change for
    a student it does not grade."""
    import json

    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
        for student in gb.students:
            record = []
            for assignment in assignments or [a.name for a in gb.assignments]:
                try:
                    sub = gb.find_submission(assignment, student.id)
                except MissingEntry:
                    continue
                record.append([assignment, str(sub.timestamp), sub.late_submission_penalty])
                for nb in sub.notebooks:
                    record += [[g.name, g.auto_score, g.manual_score, g.extra_credit]
                               for g in sorted(nb.grades, key=lambda g: g.name)]
                    record += [[c.name, c.auto_comment, c.manual_comment]
                               for c in sorted(nb.comments, key=lambda c: c.name)]
            out[student.id] = hashlib.sha256(json.dumps(record, default=str).encode()).hexdigest()
    return out


@contextlib.contextmanager
def environment(**values: Optional[str]):
    """``os.environ`` with ``values`` for the block (a None value: the variable unset), then
    every one of those variables as it was before, even when the block raised.

    >>> import os
    >>> with environment(SNNLEARN_DOCTEST_X="1", SNNLEARN_DOCTEST_Y=None):
    ...     os.environ["SNNLEARN_DOCTEST_X"], "SNNLEARN_DOCTEST_Y" in os.environ
    ('1', False)
    >>> "SNNLEARN_DOCTEST_X" in os.environ
    False
    """
    import os

    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_SESSION: dict = {}


def generated_course(tmp_path_factory) -> Path:
    """The course regenerated from the Jupytext sources (source/*.ipynb, then release/ by
    ``nbgrader generate_assignment``) in a scratch copy: once per test run, shared by the
    xdist workers (tests/run_once.py). Tests that grade work on copies of it
    (``copy_of_generated``), so this one stays as generated."""
    import sys
    import time

    from run_once import made_once

    def generate(base: Path) -> None:
        started = time.perf_counter()
        root = build_sources.scratch_copy(base / "course", EXERCISES)
        build_sources.build(root)
        build_sources.generate_release(root)
        print(f"\ncourse generated in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    if "generated" not in _SESSION:
        _SESSION["generated"] = made_once(tmp_path_factory, "generated", generate) / "course"
    return _SESSION["generated"]


def copy_of_generated(tmp_path_factory, name: str) -> Path:
    import shutil

    root = generated_course(tmp_path_factory)
    target = tmp_path_factory.mktemp(name) / "course"
    shutil.copytree(root, target, symlinks=True)
    return target


def graded_class(tmp_path_factory):
    """The class of ``class_of_submissions`` collected as ``make collect`` does, the late
    class's due date set, graded in ONE ``make autograde`` run (exercises/grading.py: batches
    of submissions in scratch courses, in parallel, each kernel in the sandbox), then
    ``generate_feedback`` and ``export``: once per test session."""
    import os
    import sys
    import time
    from types import SimpleNamespace

    if "graded" in _SESSION:
        return _SESSION["graded"]
    started = time.perf_counter()
    timings = {}

    def lap(what):
        timings[what] = round(time.perf_counter() - started - sum(timings.values()), 1)

    root = copy_of_generated(tmp_path_factory, "graded")
    base = root.parent
    lap("copy")
    sandboxed = sandbox_available()
    students = class_of_submissions(root, sandboxed)
    collected = {}
    for assignment, group in students.items():
        downloads = base / "downloads" / assignment
        times = write_downloads(downloads, assignment, group)
        collected[assignment] = grading.collect(root, assignment, downloads, times)
    assert grading.main(["--course", str(root), "duedate", LATE_ASSIGNMENT, DUE]) == 0
    lap("collect")
    protected = checksums(root, ("source", "release", "submitted"))
    with environment(SNNLEARN_CELL_TIMEOUT=CELL_TIMEOUT, SNNLEARN_INTERRUPT_GRACE=INTERRUPT_GRACE,
                     SNNLEARN_LATE_PENALTY_PER_DAY=LATE_PENALTY,
                     SNNLEARN_SANDBOX=os.environ.get("SNNLEARN_SANDBOX") if sandboxed else "none"):
        results = grading.autograde_class(root, ASSIGNMENTS, echo=False, progress=False,
                                          batch=GRADING_BATCH)
    lap("autograde")
    rcs = {a: int(not all(r["merged"] for (s, b), r in results.items() if b == a))
           for a in ASSIGNMENTS}
    after = checksums(root, ("source", "release", "submitted"))
    rows = grading.build_report(root)
    grading.write_report(root, rows)
    assert grading.generate_feedback(root) == 0  # as `make feedback`: every assignment
    lap("feedback")
    build_sources.nbgrader(root, "export", "--to", "grades.csv")
    lap("export")
    print(f"\nnbgrader workflow timings (s): {timings}", file=sys.stderr)
    _SESSION["graded"] = SimpleNamespace(
        timings=timings, protected=(protected, after), results=results, sandboxed=sandboxed,
        root=root, students=students, autograde_rcs=rcs, collected=collected,
        report={(r["student_id"], r["assignment"]): r for r in rows},
        cells=per_cell_scores(root))
    return _SESSION["graded"]


def mistakes_catalog() -> Dict[str, Dict[str, Dict[str, "verdict.Verdict"]]]:
    """{assignment: {"reference" or mistake: {grade_id: Verdict}}}: every assignment's
    reference and catalogued mistakes, one learner process per assignment (two at a time),
    judged by the grader's checks in this process. Once per test session."""
    from concurrent.futures import ThreadPoolExecutor

    if "catalog" not in _SESSION:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = {a: pool.submit(judge_catalog, a) for a in ASSIGNMENTS}
            _SESSION["catalog"] = {a: f.result() for a, f in futures.items()}
    return _SESSION["catalog"]


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
    import sys

    if sys.argv[1:2] == ["--learner"]:  # judge_catalog's learner process
        _assignment, _out, _seed, _names = sys.argv[2:6]
        _cells = source_cells_md(_assignment)
        _chosen = {n: MISTAKES[_assignment][n] for n in _names.split(",") if n}
        learner_side(_assignment, _runs_of(_cells, _chosen), Path(_out), int(_seed))
        raise SystemExit(0)
    raise SystemExit(_main())
