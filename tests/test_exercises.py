"""The nbgrader exercises and the instructor workflow, end to end on a scratch course.

One scratch copy of exercises/ is made per test module: the source notebooks are regenerated
from their Jupytext sources, the student versions with ``nbgrader generate_assignment``, a
class of submissions is collected as ``make collect`` does (grading.collect), graded as ``make autograde``
does (exercises/grading.py: each batch of submissions in its own scratch course, in parallel,
each kernel in the bubblewrap sandbox, results merged by the parent), and then
``generate_feedback`` and ``export`` run. The tests read the results. Nothing is written into
the committed tree.

The assignments are the folders of exercises/source (build_sources.assignments()). The
submissions: the reference solution and the untouched student version of every assignment;
one per typical mistake of tests/mistakes/<assignment>.py (format: ASSIGNMENTS.md); an
infinite loop, a syntax error and a corrupted notebook file (spiking_neurons); a kernel that
ignores the interrupt and a student who edits a test cell (pytorch_basics); and, on
spiking_neurons only (to keep the time bounded), hostile submissions: one wrong lif_step
alone and with each cheating trick, and a vandal that attacks the course from its kernel.
"""

from __future__ import annotations

import copy
import csv
import html
import importlib.util
import os
import re
import shutil
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"

# Cell limits while testing: short, so that the infinite loop and the stubborn kernel cost
# little; set-up and training cells keep their long limit (nbgrader_config.LONG_CELLS).
CELL_TIMEOUT = "12"
# Submissions per nbgrader run: saves nbgrader's start-up (each kernel is still sandboxed).
GRADING_BATCH = 6
INTERRUPT_GRACE = "5"


def load_module(name: str):
    spec = importlib.util.spec_from_file_location(f"_snnlearn_{name}", EXERCISES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_sources = load_module("build_sources")
grading = load_module("grading")
# One list of assignments: the folders of exercises/source (as the Makefile's).
ASSIGNMENTS = build_sources.assignments(EXERCISES)


# --- making submissions ------------------------------------------------------------------

def grade_id(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def solution_text(source: str) -> str:
    """A solution cell as a learner would have it: without the nbgrader markers."""
    return "\n".join(line for line in source.split("\n")
                     if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)


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


def edit_cell(nb, cell_id: str, replacements=None, source=None) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    (cell,) = [c for c in nb.cells if grade_id(c) == cell_id]
    if source is not None:
        cell.source = source
    for old, new in replacements or []:
        assert old in cell.source, f"the reference {cell_id} no longer contains {old!r}"
        cell.source = cell.source.replace(old, new)
    return nb


MISTAKES_DIR = ROOT / "tests" / "mistakes"


def load_mistakes(assignment: str) -> dict:
    """tests/mistakes/<assignment>.py's MISTAKES (ASSIGNMENTS.md), or {} if there is none."""
    path = MISTAKES_DIR / f"{assignment}.py"
    if not path.exists():
        return {}
    spec = importlib.util.spec_from_file_location(f"_mistakes_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MISTAKES


MISTAKES = {a: load_mistakes(a) for a in ASSIGNMENTS}
MISTAKE_CASES = [(a, m) for a in ASSIGNMENTS for m in sorted(MISTAKES[a])]

# --- hostile submissions (spiking_neurons): each one the same wrong lif_step, with a trick ---
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


def sandbox_available() -> bool:
    """Whether bubblewrap can make a sandbox here; if not, the workflow is tested without
    one (one line says so), unless SNNLEARN_REQUIRE_SANDBOX (set by .ci/run) is set."""
    try:
        grading.sandbox.check_sandbox()
        return True
    except grading.sandbox.SandboxUnavailable as error:
        if os.environ.get("SNNLEARN_REQUIRE_SANDBOX"):
            pytest.fail(f"SNNLEARN_REQUIRE_SANDBOX is set but {error}")
        print(f"\ngrading tested WITHOUT a sandbox: {error}", file=sys.stderr)
        return False


def hostile_submissions(reference) -> dict:
    """{student: notebook}: the wrong lif_step alone, and with each trick; a vandal."""
    out = {"wrong_lif": edit_cell(reference, "lif_step", source=WRONG_LIF)}
    for name, trick in TRICKS.items():
        out[name] = edit_cell(reference, "lif_step", source=trick + WRONG_LIF)
    return out


def checksums(root: Path, folders) -> dict:
    import hashlib

    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted((root / folder).rglob("*")) if p.is_file()}


STUBBORN = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"


def class_of_submissions(course: Path, sandboxed: bool = True) -> dict:
    """{assignment: {student_id: notebook or raw text}}."""
    refs = {a: reference_submission(course, a) for a in ASSIGNMENTS}
    untouched = {a: nbformat.read(course / "release" / a / f"{a}.ipynb", 4) for a in ASSIGNMENTS}
    spiking = refs["spiking_neurons"]
    students = {a: {"reference": refs[a], "untouched": untouched[a]} for a in ASSIGNMENTS}
    for assignment, mistakes in MISTAKES.items():
        for name, mistake in mistakes.items():
            students[assignment][name] = edit_cell(refs[assignment], mistake["cell"],
                                                   mistake.get("edits"), mistake.get("source"))
    students["spiking_neurons"].update(hostile_submissions(spiking))
    if sandboxed:  # without a sandbox the vandal would really wreck the scratch course
        vandal = VANDAL.format(course=str(course), repo=str(ROOT))
        students["spiking_neurons"]["vandal"] = edit_cell(
            spiking, "firing_rate", source=vandal + "\n" + next(
                c.source for c in spiking.cells if grade_id(c) == "firing_rate"))
    firing = next(c.source for c in spiking.cells if grade_id(c) == "firing_rate")
    students["spiking_neurons"]["infinite_loop"] = edit_cell(
        spiking, "firing_rate", source="while True:\n    pass\n\n" + firing)
    students["spiking_neurons"]["syntax_error"] = edit_cell(
        spiking, "simulate", [("dt=0.001):", "dt=0.001)")])
    text = nbformat.writes(spiking)
    students["spiking_neurons"]["corrupted_json"] = text[: len(text) // 2]
    basics = refs["pytorch_basics"]
    students["pytorch_basics"]["stubborn_kernel"] = edit_cell(basics, "build_network",
                                                              source=STUBBORN)
    tampered = edit_cell(basics, "make_tensor",
                         source="def make_tensor():\n    return torch.zeros(2, 2, 2)")
    students["pytorch_basics"]["tampered"] = edit_cell(tampered, "make_tensor_values",
                                                       source="pass")
    return students


def write_downloads(downloads: Path, assignment: str, students: dict) -> None:
    """One folder <student>/ per student, except the reference, sent as <student>.zip."""
    for student, nb in students.items():
        text = nb if isinstance(nb, str) else nbformat.writes(nb)
        if student == "reference":
            downloads.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(downloads / f"{student}.zip", "w") as archive:
                archive.writestr(f"work/{assignment}.ipynb", text)
        else:
            folder = downloads / student
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{assignment}.ipynb").write_text(text, encoding="utf-8")


# --- the graded course -------------------------------------------------------------------

def per_cell_scores(course: Path) -> dict:
    """{(student, assignment): {grade_id: (score, max_score)}} from the gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    out = {}
    with Gradebook("sqlite:///" + str(course / "gradebook.db")) as gb:
        for assignment in ASSIGNMENTS:
            for student in gb.students:
                try:
                    nb = gb.find_submission_notebook(assignment, assignment, student.id)
                except MissingEntry:
                    continue
                out[(student.id, assignment)] = {
                    g.name: (float(g.score), float(g.max_score)) for g in nb.grades}
    return out


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> SimpleNamespace:
    started = time.perf_counter()
    timings = {}

    def lap(what):
        timings[what] = round(time.perf_counter() - started - sum(timings.values()), 1)

    base = tmp_path_factory.mktemp("nbgrader")
    root = build_sources.scratch_copy(base / "course", EXERCISES)
    build_sources.build(root)
    build_sources.generate_release(root)
    lap("generate")

    sandboxed = sandbox_available()
    students = class_of_submissions(root, sandboxed)
    for assignment, group in students.items():
        downloads = base / "downloads" / assignment
        write_downloads(downloads, assignment, group)
        stamps, skipped = grading.collect(root, assignment, downloads)
        assert set(stamps) == set(group) and not skipped, skipped
    lap("collect")

    protected = checksums(root, ("source", "release", "submitted"))
    saved = {k: os.environ.get(k) for k in ("SNNLEARN_CELL_TIMEOUT", "SNNLEARN_INTERRUPT_GRACE",
                                            "SNNLEARN_SANDBOX")}
    os.environ.update(SNNLEARN_CELL_TIMEOUT=CELL_TIMEOUT, SNNLEARN_INTERRUPT_GRACE=INTERRUPT_GRACE)
    if not sandboxed:
        os.environ["SNNLEARN_SANDBOX"] = "none"
    try:
        results = grading.autograde_class(root, ASSIGNMENTS, echo=False, progress=False,
                                               batch=GRADING_BATCH)
        rcs = {a: int(not all(r["merged"] for (s, b), r in results.items() if b == a))
               for a in ASSIGNMENTS}
        lap("autograde")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    after = checksums(root, ("source", "release", "submitted"))
    rows = grading.build_report(root)
    grading.write_report(root, rows)
    for assignment in ASSIGNMENTS:
        build_sources.nbgrader(root, "generate_feedback", assignment, "--force")
    lap("feedback")
    build_sources.nbgrader(root, "export", "--to", "grades.csv")
    lap("export")
    print(f"\nnbgrader workflow timings (s): {timings}", file=sys.stderr)
    return SimpleNamespace(timings=timings, protected=(protected, after), results=results,
                           sandboxed=sandboxed,
        root=root, students=students, autograde_rcs=rcs,
        report={(r["student_id"], r["assignment"]): r for r in rows},
        cells=per_cell_scores(root))


def feedback_text(course, student: str, assignment: str) -> str:
    path = course.root / "feedback" / student / assignment / f"{assignment}.html"
    return html.unescape(path.read_text(encoding="utf-8"))


def log_of(course, assignment: str) -> str:
    return grading.log_path(course.root, assignment).read_text(encoding="utf-8")


# --- the committed notebooks ---------------------------------------------------------------

def source_cells(assignment: str):
    return nbformat.read(EXERCISES / "source" / assignment / f"{assignment}.ipynb", 4).cells


def regions(text: str, begin: str, end: str) -> list:
    """Each region between the markers ``begin`` and ``end``: its non-trivial lines."""
    found, current = [], None
    for line in text.split("\n"):
        if begin in line:
            current = []
        elif end in line and current is not None:
            if current:
                found.append(current)
            current = None
        elif current is not None and len(line.strip()) > 12:
            current.append(line.strip())
    return found


def region_lines(text: str, begin: str, end: str) -> list:
    """The non-trivial lines between the markers ``begin`` and ``end``."""
    lines, inside = [], False
    for line in text.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and len(line.strip()) > 12:
            lines.append(line.strip())
    return lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_notebooks_match_their_jupytext_sources(course, assignment):
    """source/*.ipynb and release/*.ipynb are what the .md sources generate (not stale)."""
    for kind in ("source", "release"):
        committed = EXERCISES / kind / assignment / f"{assignment}.ipynb"
        fresh = course.root / kind / assignment / f"{assignment}.ipynb"
        assert committed.is_file(), f"{committed} is missing: run make assignments"
        assert build_sources.comparable(committed) == build_sources.comparable(fresh), (
            f"{committed.relative_to(ROOT)} is stale: run `make assignments` and commit")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_hidden_tests_or_sources(course, assignment):
    for release_dir in (EXERCISES / "release" / assignment, course.root / "release" / assignment):
        assert sorted(p.name for p in release_dir.iterdir()) == [f"{assignment}.ipynb"]
        text = (release_dir / f"{assignment}.ipynb").read_text(encoding="utf-8")
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
        released = "\n".join(line.strip() for c in nbformat.reads(text, 4).cells
                             for line in c.source.split("\n"))
        for cell in source_cells(assignment):
            # A region leaks when three consecutive lines of it (or all of a shorter one)
            # appear in the release; single generic lines ("with torch.no_grad():") may
            # legitimately appear in visible cells too.
            for begin, end in (("### BEGIN SOLUTION", "### END SOLUTION"),
                               ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")):
                for region in regions(cell.source, begin, end):
                    width = min(3, len(region))
                    for k in range(len(region) - width + 1):
                        window = "\n".join(region[k:k + width])
                        assert window not in released, f"{assignment} release leaks:\n{window}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_function_has_several_test_cells_and_hidden_tests(assignment):
    """The answer cells and the test cells that follow them (up to the next answer cell):
    each group has several test cells (partial credit), at least one visible to the learner
    and at least one with hidden tests, every hidden one locked and worth points."""
    groups, answers, tests = [], [], []
    for cell in source_cells(assignment):
        nbg = cell.metadata.get("nbgrader", {})
        if nbg.get("solution"):
            if tests:
                groups.append((answers, tests))
                answers, tests = [], []
            answers.append(grade_id(cell))
        elif nbg.get("grade") and answers:
            tests.append(cell)
    groups.append((answers, tests))
    assert groups[0][0], f"{assignment} has no answer cells"
    for answers, tests in groups:
        hidden = [c for c in tests if "### BEGIN HIDDEN TESTS" in c.source]
        visible = [c for c in tests if "### BEGIN HIDDEN TESTS" not in c.source]
        assert len(tests) >= 2 and hidden and visible, (
            f"{answers}: tested by {[grade_id(c) for c in tests]}, "
            f"{len(hidden)} with hidden tests")
        for test in hidden:
            nbg = test.metadata["nbgrader"]
            assert nbg["locked"] and nbg["points"] > 0


# --- grading -------------------------------------------------------------------------------

@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_scores_full_marks(course, assignment):
    row = course.report[("reference", assignment)]
    assert row["status"] == "GRADED", row
    assert float(row["score"]) == float(row["max_score"]) > 0, row
    failed = {k: v for k, v in course.cells[("reference", assignment)].items() if v[0] != v[1]}
    assert not failed, f"{assignment}: the reference fails {failed}"
    assert "stopped at the time limit" not in row["notes"] and "changed" not in row["notes"]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_version_scores_zero(course, assignment):
    row = course.report[("untouched", assignment)]
    assert row["status"] == "GRADED", row
    assert float(row["score"]) == 0.0 and float(row["max_score"]) > 0, row
    assert row["notes"] == "", row


def test_autograde_on_a_fresh_clone_records_the_assignment_itself(course, tmp_path, capsys):
    """A fresh clone has the release/ notebooks but no gradebook: make autograde copes."""
    fresh = tmp_path / "course"
    shutil.copytree(course.root / "source", fresh / "source")
    shutil.copytree(course.root / "release", fresh / "release")
    for name in grading.COURSE_FILES:
        shutil.copy(EXERCISES / name, fresh)
    shutil.copytree(course.root / "submitted" / "reference" / "pytorch_basics",
                    fresh / "submitted" / "ada" / "pytorch_basics")
    released = (fresh / "release" / "pytorch_basics" / "pytorch_basics.ipynb").read_bytes()
    rc = grading.main(["--course", str(fresh), "autograde", "--quiet", "--strict"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert re.search(r"ada\s+GRADED\s+(\d+)/\1\b", out), out
    assert (fresh / "release" / "pytorch_basics" / "pytorch_basics.ipynb").read_bytes() == released
    assert not (fresh / ".gradebook_release").exists()


def test_reference_training_is_fast_and_accurate(course):
    nb = nbformat.read(course.root / "autograded" / "reference" / "training_snns"
                       / "training_snns.ipynb", 4)
    (cell,) = [c for c in nb.cells if grade_id(c) == "train_run"]
    text = "".join(o.get("text", "") for o in cell.outputs)
    match = re.search(r"training took ([\d.]+) s; held-out accuracy ([\d.]+)%", text)
    assert match, text
    seconds, accuracy = float(match.group(1)), float(match.group(2))
    print(f"reference training: {seconds:.1f} s, held-out accuracy {accuracy:.1f} %")
    assert accuracy >= 90.0
    assert seconds <= 90.0


@pytest.mark.parametrize("assignment, mistake", MISTAKE_CASES)
def test_typical_mistakes_lose_points_with_a_feedback_that_says_why(course, assignment, mistake):
    spec = MISTAKES[assignment][mistake]
    row = course.report[(mistake, assignment)]
    assert row["status"] == "GRADED", row
    assert float(row["score"]) < float(row["max_score"]), row
    assert "TAMPERED" not in row["notes"], row
    cells = course.cells[(mistake, assignment)]
    assert cells[spec["caught_by"]][0] < cells[spec["caught_by"]][1], (
        f"{mistake} should lose points in {spec['caught_by']}: {cells}")
    feedback = feedback_text(course, mistake, assignment)
    assert spec["feedback"] in feedback, f"the feedback of {mistake} does not say: {spec['feedback']}"
    assert spec["caught_by"] in feedback


def test_infinite_loop_is_stopped_and_only_costs_its_own_points(course):
    row = course.report[("infinite_loop", "spiking_neurons")]
    assert row["status"] == "GRADED", row
    assert "cell firing_rate stopped at the time limit" in row["notes"], row
    cells = course.cells[("infinite_loop", "spiking_neurons")]
    for name, (score, maximum) in cells.items():
        expected = 0.0 if name.startswith("firing_rate") else maximum
        assert score == expected, (name, score)
    assert "CellTimeoutError" in feedback_text(course, "infinite_loop", "spiking_neurons")


def test_syntax_error_costs_the_tests_of_that_function(course):
    row = course.report[("syntax_error", "spiking_neurons")]
    assert row["status"] == "GRADED", row
    cells = course.cells[("syntax_error", "spiking_neurons")]
    for name, (score, maximum) in cells.items():
        assert score == (0.0 if name.startswith("simulate") else maximum), (name, score)
    assert "SyntaxError" in feedback_text(course, "syntax_error", "spiking_neurons")


def test_corrupted_notebook_is_reported_failed_and_the_others_are_graded(course):
    row = course.report[("corrupted_json", "spiking_neurons")]
    assert row["status"] == "FAILED", row
    assert "JSON" in row["notes"], row
    assert course.autograde_rcs["spiking_neurons"] != 0  # nbgrader says so too
    failed = {s for (s, a), r in course.report.items()
              if a == "spiking_neurons" and r["status"] == "FAILED"}
    assert failed == {"corrupted_json", "exits_the_kernel"}
    text = (course.root / "grading_report.txt").read_text()
    assert "FAILED" in text and "corrupted_json" in text


def test_kernel_that_ignores_the_interrupt_is_reported_failed(course):
    row = course.report[("stubborn_kernel", "pytorch_basics")]
    assert row["status"] == "FAILED", row
    assert "did not stop" in row["notes"], row
    assert course.report[("tampered", "pytorch_basics")]["status"] == "GRADED"


def test_tampered_test_cell_is_restored_and_reported(course):
    row = course.report[("tampered", "pytorch_basics")]
    assert row["status"] == "GRADED", row
    assert "changed read-only cell make_tensor_values" in row["notes"], row
    cells = course.cells[("tampered", "pytorch_basics")]
    assert cells["make_tensor_values"][0] == 0.0 and cells["make_tensor_hidden"][0] == 0.0
    assert float(row["score"]) == float(row["max_score"]) - 2
    assert "Attribute 'checksum' for cell make_tensor_values has changed" in log_of(
        course, "pytorch_basics")


@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_hostile_submissions_gain_nothing(course, trick):
    """Each trick rewrites the learner's own process (patched torch, hidden errors, rewritten
    cells, traces, a forged proof line): the checks run outside it (exercises/verdict.py),
    so the wrong lif_step scores what it scores without the trick, cell by cell."""
    honest_wrong = course.report[("wrong_lif", "spiking_neurons")]
    assert honest_wrong["status"] == "GRADED" and "TAMPERED" not in honest_wrong["notes"]
    row = course.report[(trick, "spiking_neurons")]
    if trick == "exits_the_kernel":
        assert row["status"] == "FAILED", row  # the kernel died: nothing graded, 0 points
        return
    assert row["status"] == "GRADED", row
    assert float(row["score"]) <= float(honest_wrong["score"]), (trick, row, honest_wrong)
    mine, honest = course.cells[(trick, "spiking_neurons")], course.cells[("wrong_lif",
                                                                            "spiking_neurons")]
    assert all(mine[g][0] <= honest[g][0] for g in honest), (trick, mine, honest)


def test_honest_submissions_are_not_called_tampered(course):
    for (student, assignment), row in course.report.items():
        if student not in TRICKS:
            assert "TAMPERED" not in row["notes"], row


def test_a_submission_cannot_touch_the_course(course):
    """The vandal empties gradebook.db, overwrites the others' notebooks and copies source/:
    from its sandbox it sees none of them, and nothing outside its scratch folder changes."""
    if not course.sandboxed:
        pytest.skip("no sandbox here (bubblewrap): the vandal was not graded")
    before, after = course.protected
    assert before == after
    row = course.report[("vandal", "spiking_neurons")]
    assert row["status"] == "GRADED" and float(row["score"]) == float(row["max_score"]), row
    nb = nbformat.read(course.root / "autograded" / "vandal" / "spiking_neurons"
                       / "spiking_neurons.ipynb", 4)
    (cell,) = [c for c in nb.cells if grade_id(c) == "firing_rate"]
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert "nothing to see" in text and "FOUND" not in text, text
    assert "could not empty the gradebook" in text and "could not copy source/" in text
    assert float(course.report[("reference", "spiking_neurons")]["score"]) > 0
    assert not (course.root / "autograded" / "vandal" / "spiking_neurons"
                / "stolen_source").exists()


def test_report_has_grading_times(course):
    rows = [r for r in course.report.values() if r["status"] == "GRADED"]
    assert rows and all(float(r["seconds"]) > 0 for r in rows)


def test_canvas_csv_lists_every_student(course):
    path = grading.write_canvas_csv(course.root)
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1][0] == "Points Possible"
    students = {s for group in course.students.values() for s in group}
    assert {r[2] for r in rows[2:]} == students


def test_feedback_never_shows_hidden_tests(course):
    hidden = {a: [line for c in source_cells(a) for line in region_lines(
        c.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")] for a in ASSIGNMENTS}
    pages = sorted((course.root / "feedback").glob("*/*/*.html"))
    assert len(pages) >= 12
    for page in pages:
        assignment = page.parent.name
        text = html.unescape(page.read_text(encoding="utf-8"))
        assert "BEGIN HIDDEN TESTS" not in text, page
        for line in hidden[assignment]:
            assert line not in text, f"{page} shows hidden test code: {line}"
    # A failed hidden test shows its message, not its code (minimal tracebacks).
    text = feedback_text(course, "no_reset", "spiking_neurons")
    assert "the spikes differ from the reference" in text or "v differs from the reference" in text
    assert "_reference_step(" not in text


def test_export_lists_every_student_and_assignment(course):
    with open(course.root / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    students = {s for group in course.students.values() for s in group}
    assert {r["student_id"] for r in rows} == students
    assert {r["assignment"] for r in rows} == set(ASSIGNMENTS)
    assert len(rows) == len(students) * len(ASSIGNMENTS)
    # Students without a submission for an assignment are in the report, as NOT SUBMITTED.
    assert course.report[("no_reset", "pytorch_basics")]["status"] == "NOT SUBMITTED"
    with open(course.root / "grading_report.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == len(rows)


def test_failed_reasons_are_parsed_from_nbgrader_logs():
    log = (
        "[AutogradeApp | ERROR] There was an error processing assignment: /c/submitted/ann/a1\n"
        "[AutogradeApp | ERROR] Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\n'
        "nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{'\n"
        "[AutogradeApp | INFO] Sanitizing /c/submitted/bob/a1/a1.ipynb\n"
        "[AutogradeApp | ERROR] While processing assignment /c/submitted/cy/a1, the kernel "
        "became unresponsive and we could not interrupt it.\n")
    failures = grading.failures_from_log(log)
    assert set(failures) == {("ann", "a1"), ("cy", "a1")}
    assert "NotJSONError" in failures[("ann", "a1")]
    assert "did not stop" in failures[("cy", "a1")]


def test_instructor_targets_and_guide():
    makefile = (ROOT / "Makefile").read_text()
    guide = (ROOT / "book" / "instructor_guide.md").read_text()
    for target in ("assignments", "check-assignments", "collect", "autograde", "feedback",
                   "export", "grade"):
        assert re.search(rf"^{target}:", makefile, re.M), target
        assert f"make {target}" in guide, target
    for phrase in ("submitted/<student_id>/<assignment>/<assignment>.ipynb", "private",
                   "FAILED", "grades.csv"):
        assert phrase in guide, phrase
    config = (EXERCISES / "nbgrader_config.py").read_text()
    assert '"*.md"' in config and "xmode=Minimal" in config
