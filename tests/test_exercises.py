"""The nbgrader exercises and the instructor workflow, end to end on scratch courses.

Three expensive things, each made once per test session (tests/grading_helpers.py) and
shared by every test (and test module) that needs it:

- ``generated``: the source notebooks regenerated from their Jupytext sources and the
  student versions made by ``nbgrader generate_assignment``, in a scratch copy of
  exercises/; the staleness and leak tests need only this, never the grading;
- ``graded``: a copy of it in which one class is collected as ``make collect`` does, graded
  in ONE ``make autograde`` run (each batch of submissions in its own scratch course, in
  parallel, each kernel in the bubblewrap sandbox), then ``generate_feedback`` and
  ``export``: the reference and the untouched version of every assignment; on
  spiking_neurons a wrong lif_step alone and with each cheating trick, a vandal that attacks
  the course from its kernel, an infinite loop, a syntax error, a corrupted file; on
  pytorch_basics a kernel that ignores the interrupt, a student who edits a test cell, and
  the late-penalty students (tests/test_grading_late.py);
- ``catalog``: every typical mistake of tests/mistakes/<assignment>.py, one learner process
  per assignment running the reference and then each mistake's edited answer and the test
  cells it can change, the verdicts made by the grader's checks (exercises/verdict.py) in
  this process from the plain data that process sent (what a graded submission's kernel
  sends): a mistake's failed check is a test cell with 0 points and that message.

Nothing is written into the committed tree.
"""

from __future__ import annotations

import csv
import html
import re
import shutil

import nbformat
import pytest

from grading_helpers import (ASSIGNMENTS, MISTAKE_CASES, MISTAKES, TRICKS, build_sources,
                             generated_course, grade_id, graded_class, grading, points_of,
                             mistakes_catalog, source_cells_md)
from paths import EXERCISES, ROOT


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    return generated_course(tmp_path_factory)


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    return graded_class(tmp_path_factory)


@pytest.fixture(scope="session")
def catalog():
    return mistakes_catalog()


def feedback_text(course, student: str, assignment: str) -> str:
    path = course.root / "feedback" / student / assignment / f"{assignment}.html"
    return html.unescape(path.read_text(encoding="utf-8"))


def log_of(course, assignment: str) -> str:
    return grading.log_path(course.root, assignment).read_text(encoding="utf-8")


# --- the committed notebooks ---------------------------------------------------------------

def source_cells(assignment: str):
    return source_cells_md(assignment)


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


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_notebooks_match_their_jupytext_sources(generated, assignment):
    """source/*.ipynb and release/*.ipynb are what the .md sources generate (not stale)."""
    for kind in ("source", "release"):
        committed = EXERCISES / kind / assignment / f"{assignment}.ipynb"
        fresh = generated / kind / assignment / f"{assignment}.ipynb"
        assert committed.is_file(), f"{committed} is missing: run make assignments"
        assert build_sources.comparable(committed) == build_sources.comparable(fresh), (
            f"{committed.relative_to(ROOT)} is stale: run `make assignments` and commit")


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solutions_hidden_tests_or_sources(generated, assignment):
    for release_dir in (EXERCISES / "release" / assignment, generated / "release" / assignment):
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

@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_scores_full_marks(course, assignment):
    row = course.report[("reference", assignment)]
    assert row["status"] == "GRADED", row
    assert float(row["score"]) == float(row["max_score"]) > 0, row
    failed = {k: v for k, v in course.cells[("reference", assignment)].items() if v[0] != v[1]}
    assert not failed, f"{assignment}: the reference fails {failed}"
    assert "stopped at the time limit" not in row["notes"] and "changed" not in row["notes"]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_version_scores_zero(course, assignment):
    row = course.report[("untouched", assignment)]
    assert row["status"] == "GRADED", row
    assert float(row["score"]) == 0.0 and float(row["max_score"]) > 0, row
    assert row["notes"] == "", row


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_catalog_run_of_the_reference_passes_every_check(catalog, assignment):
    failed = {g: f"{v.ename}: {v.evalue}" for g, v in catalog[assignment]["reference"].items()
              if not v.passed}
    assert not failed, failed
    assert set(catalog[assignment]["reference"]) == set(points_of(source_cells_md(assignment)))


@pytest.mark.slow
@pytest.mark.parametrize("assignment, mistake", MISTAKE_CASES)
def test_typical_mistakes_lose_points_with_a_feedback_that_says_why(catalog, assignment, mistake):
    """The mistake's named check fails in the grader (its test cell gets an error output:
    0 of its points in nbgrader's gradebook), with a message that says what is wrong."""
    spec = MISTAKES[assignment][mistake]
    verdicts = catalog[assignment][mistake]
    caught = verdicts[spec["caught_by"]]
    assert not caught.passed, f"{mistake} should fail {spec['caught_by']}: {verdicts}"
    assert points_of(source_cells_md(assignment))[spec["caught_by"]] > 0
    assert spec["feedback"] in caught.evalue, (
        f"the feedback of {mistake} in {spec['caught_by']} does not say {spec['feedback']!r}: "
        f"{caught.ename}: {caught.evalue}")
    assert "TAMPERED" not in caught.evalue


@pytest.mark.slow
def test_infinite_loop_is_stopped_and_only_costs_its_own_points(course):
    row = course.report[("infinite_loop", "spiking_neurons")]
    assert row["status"] == "GRADED", row
    assert "cell firing_rate stopped at the time limit" in row["notes"], row
    cells = course.cells[("infinite_loop", "spiking_neurons")]
    for name, (score, maximum) in cells.items():
        expected = 0.0 if name.startswith("firing_rate") else maximum
        assert score == expected, (name, score)
    assert "CellTimeoutError" in feedback_text(course, "infinite_loop", "spiking_neurons")


@pytest.mark.slow
def test_syntax_error_costs_the_tests_of_that_function(course):
    row = course.report[("syntax_error", "spiking_neurons")]
    assert row["status"] == "GRADED", row
    cells = course.cells[("syntax_error", "spiking_neurons")]
    for name, (score, maximum) in cells.items():
        assert score == (0.0 if name.startswith("simulate") else maximum), (name, score)
    assert "SyntaxError" in feedback_text(course, "syntax_error", "spiking_neurons")


@pytest.mark.slow
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


@pytest.mark.slow
def test_kernel_that_ignores_the_interrupt_is_reported_failed(course):
    row = course.report[("stubborn_kernel", "pytorch_basics")]
    assert row["status"] == "FAILED", row
    assert "did not stop" in row["notes"], row
    assert course.report[("tampered", "pytorch_basics")]["status"] == "GRADED"


@pytest.mark.slow
def test_tampered_test_cell_is_restored_and_reported(course):
    row = course.report[("tampered", "pytorch_basics")]
    assert row["status"] == "GRADED", row
    assert "changed read-only cell make_tensor_values" in row["notes"], row
    cells = course.cells[("tampered", "pytorch_basics")]
    assert cells["make_tensor_values"][0] == 0.0 and cells["make_tensor_hidden"][0] == 0.0
    assert float(row["score"]) == float(row["max_score"]) - 2
    assert "Attribute 'checksum' for cell make_tensor_values has changed" in log_of(
        course, "pytorch_basics")


@pytest.mark.slow
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


@pytest.mark.slow
def test_honest_submissions_are_not_called_tampered(course):
    for (student, assignment), row in course.report.items():
        if student not in TRICKS:
            assert "TAMPERED" not in row["notes"], row


@pytest.mark.slow
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


@pytest.mark.slow
def test_collect_files_every_student(course):
    for assignment, (stamps, report) in course.collected.items():
        assert set(stamps) == set(course.students[assignment]), assignment
        assert all("not in" in line and "times.csv" in line for line in report), report


@pytest.mark.slow
def test_report_has_grading_times(course):
    rows = [r for r in course.report.values() if r["status"] == "GRADED"]
    assert rows and all(float(r["seconds"]) > 0 for r in rows)


@pytest.mark.slow
def test_canvas_csv_lists_every_student(course):
    path = grading.write_canvas_csv(course.root)
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1][0] == "Points Possible"
    students = {s for group in course.students.values() for s in group}
    assert {r[2] for r in rows[2:]} == students


@pytest.mark.slow
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
    text = feedback_text(course, "wrong_lif", "spiking_neurons")
    assert "the spikes differ from the reference" in text or "v differs from the reference" in text
    assert "_reference_step(" not in text


@pytest.mark.slow
def test_export_lists_every_student_and_assignment(course):
    with open(course.root / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    students = {s for group in course.students.values() for s in group}
    assert {r["student_id"] for r in rows} == students
    assert {r["assignment"] for r in rows} == set(ASSIGNMENTS)
    assert len(rows) == len(students) * len(ASSIGNMENTS)
    # Students without a submission for an assignment are in the report, as NOT SUBMITTED.
    assert course.report[("wrong_lif", "pytorch_basics")]["status"] == "NOT SUBMITTED"
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
