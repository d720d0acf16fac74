"""The nbgrader exercises and the instructor workflow, end to end on a scratch course.

One scratch copy of exercises/ is made per test module: the source notebooks are regenerated
from their Jupytext sources, the student versions with ``nbgrader generate_assignment``, a
class of submissions is collected with ``nbgrader zip_collect``, graded with one
``nbgrader autograde`` run per assignment (through exercises/grading_report.py, as
``make autograde`` does), and then ``generate_feedback`` and ``export`` run. The tests read
the results. Nothing is written into the committed tree.

The submissions: the reference solution and the untouched student version of every
assignment; for ``lif_step`` seven typical mistakes; an infinite loop, a syntax error and a
corrupted notebook file (spiking_neurons); a kernel that ignores the interrupt and a student
who edits a test cell (pytorch_basics).
"""

from __future__ import annotations

import copy
import csv
import html
import importlib.util
import json
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
ASSIGNMENTS = ["pytorch_basics", "spiking_neurons", "training_snns"]
# Cell limits while testing: short, so that the infinite loop and the stubborn kernel cost
# little; set-up and training cells keep their long limit (nbgrader_config.LONG_CELLS).
CELL_TIMEOUT = "12"
INTERRUPT_GRACE = "5"


def load_module(name: str):
    spec = importlib.util.spec_from_file_location(f"_snnlearn_{name}", EXERCISES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_sources = load_module("build_sources")
grading_report = load_module("grading_report")


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


# Typical lif_step mistakes: edits of the reference solution, the grade cell that must
# catch each, and a phrase of the message the learner then reads in the feedback.
LIF_MISTAKES = {
    "no_reset": ([("    v_new = (1 - z) * v_new + z * p.v_reset\n", "")],
                 "lif_step_reset", "no reset: your v after reset should be v_reset where z == 1"),
    "decay_before_input": ([("i_jump = state.i + x", "i_jump = state.i - dt * p.tau_syn_inv * state.i + x"),
                            ("i_new = i_jump - dt * p.tau_syn_inv * i_jump", "i_new = i_jump")],
                           "lif_step_current", "the current must decay after the input jumps in"),
    "no_leak": ([("((p.v_leak - state.v) + i_jump)", "i_jump")],
                "lif_step_leak", "with no input v should leak towards v_leak"),
    "ignores_dt": ([("dt * p.tau_mem_inv", "p.tau_mem_inv"), ("dt * p.tau_syn_inv", "p.tau_syn_inv")],
                   "lif_step_dt", "both updates are multiplied by dt"),
    "reset_to_zero": ([("z * p.v_reset", "z * 0.0")],
                      "lif_step_reset", "here p.v_reset = -0.5, not 0"),
    "swaps_v_and_i": ([("LIFFeedForwardState(v_new, i_new)", "LIFFeedForwardState(i_new, v_new)")],
                      "lif_step_current", "v and i are swapped"),
    "calls_snnlearn": ([("    i_jump = state.i + x\n",
                         "    return snnlearn.functional.lif_feed_forward_step(x, state, p, dt)\n")],
                       "lif_step_no_snnlearn", "without calling snnlearn's own LIF step"),
}

STUBBORN = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"


def class_of_submissions(course: Path) -> dict:
    """{assignment: {student_id: notebook or raw text}}."""
    refs = {a: reference_submission(course, a) for a in ASSIGNMENTS}
    untouched = {a: nbformat.read(course / "release" / a / f"{a}.ipynb", 4) for a in ASSIGNMENTS}
    spiking = refs["spiking_neurons"]
    students = {a: {"reference": refs[a], "untouched": untouched[a]} for a in ASSIGNMENTS}
    for name, (edits, _, _) in LIF_MISTAKES.items():
        students["spiking_neurons"][name] = edit_cell(spiking, "lif_step", edits)
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

    students = class_of_submissions(root)
    for assignment, group in students.items():
        downloads = base / "downloads" / assignment
        write_downloads(downloads, assignment, group)
        archive = root / "downloaded" / assignment / "archive"
        shutil.copytree(downloads, archive)
        build_sources.nbgrader(root, "zip_collect", assignment, "--force")
    lap("collect")

    saved = {k: os.environ.get(k) for k in ("SNNLEARN_CELL_TIMEOUT", "SNNLEARN_INTERRUPT_GRACE")}
    os.environ.update(SNNLEARN_CELL_TIMEOUT=CELL_TIMEOUT, SNNLEARN_INTERRUPT_GRACE=INTERRUPT_GRACE)
    try:
        rcs = {}
        for assignment in ASSIGNMENTS:
            rcs[assignment] = grading_report.autograde(root, assignment, echo=False)
            lap(f"autograde {assignment}")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    rows = grading_report.build_report(root)
    grading_report.write_report(root, rows)
    for assignment in ASSIGNMENTS:
        build_sources.nbgrader(root, "generate_feedback", assignment, "--force")
    lap("feedback")
    build_sources.nbgrader(root, "export", "--to", "grades.csv")
    lap("export")
    print(f"\nnbgrader workflow timings (s): {timings}", file=sys.stderr)
    return SimpleNamespace(timings=timings, 
        root=root, students=students, autograde_rcs=rcs,
        report={(r["student_id"], r["assignment"]): r for r in rows},
        cells=per_cell_scores(root))


def feedback_text(course, student: str, assignment: str) -> str:
    path = course.root / "feedback" / student / assignment / f"{assignment}.html"
    return html.unescape(path.read_text(encoding="utf-8"))


def log_of(course, assignment: str) -> str:
    return grading_report.log_path(course.root, assignment).read_text(encoding="utf-8")


# --- the committed notebooks ---------------------------------------------------------------

def source_cells(assignment: str):
    return nbformat.read(EXERCISES / "source" / assignment / f"{assignment}.ipynb", 4).cells


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
        released = "\n".join(c.source for c in nbformat.reads(text, 4).cells)
        for cell in source_cells(assignment):
            secret = (region_lines(cell.source, "### BEGIN SOLUTION", "### END SOLUTION")
                      + region_lines(cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
            for line in secret:
                assert line not in released, f"{assignment} release leaks: {line}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_function_has_several_test_cells_and_hidden_tests(assignment):
    cells = source_cells(assignment)
    solutions = [c for c in cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solutions
    for cell in solutions:
        assert len(re.findall(r"^def ", cell.source, re.M)) == 1, (
            f"{grade_id(cell)}: one graded function per solution cell")
        name = re.search(r"^def (\w+)", cell.source, re.M).group(1)
        tests = [c for c in cells if c.metadata.get("nbgrader", {}).get("grade")
                 and re.search(rf"\b{name}\(", c.source)]
        hidden = [c for c in tests if "### BEGIN HIDDEN TESTS" in c.source]
        visible = [c for c in tests if "### BEGIN HIDDEN TESTS" not in c.source]
        assert len(tests) >= 2 and hidden and visible, f"{name}: tests {[grade_id(c) for c in tests]}"
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
    shutil.copy(EXERCISES / "nbgrader_config.py", fresh)
    shutil.copytree(course.root / "submitted" / "reference" / "pytorch_basics",
                    fresh / "submitted" / "ada" / "pytorch_basics")
    released = (fresh / "release" / "pytorch_basics" / "pytorch_basics.ipynb").read_bytes()
    rc = grading_report.main(["--autograde", "--quiet", "--strict", "--course", str(fresh)])
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


@pytest.mark.parametrize("mistake", sorted(LIF_MISTAKES))
def test_lif_step_mistakes_lose_points_with_a_feedback_that_says_why(course, mistake):
    _, check, message = LIF_MISTAKES[mistake]
    row = course.report[(mistake, "spiking_neurons")]
    assert row["status"] == "GRADED", row
    assert float(row["score"]) < float(row["max_score"]), row
    cells = course.cells[(mistake, "spiking_neurons")]
    assert cells[check][0] == 0.0, f"{mistake} should fail {check}: {cells}"
    assert cells["lif_step_hidden"][0] == 0.0 or mistake == "calls_snnlearn", cells
    # Other exercises are not affected.
    for other in ("firing_rate_value", "firing_rate_hidden", "simulate_hidden"):
        assert cells[other][0] == cells[other][1], (mistake, other)
    feedback = feedback_text(course, mistake, "spiking_neurons")
    assert message in feedback, f"the feedback of {mistake} does not say: {message}"
    assert check in feedback


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
    graded = [s for (s, a), r in course.report.items()
              if a == "spiking_neurons" and r["status"] == "GRADED"]
    assert len(graded) == len(course.students["spiking_neurons"]) - 1
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
    failures = grading_report.failures_from_log(log)
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
