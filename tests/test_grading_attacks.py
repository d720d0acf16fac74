"""Attacks a student who read exercises/sandbox.py, verdict.py and grading.py would try,
each against a class with honest students beside it (spiking_neurons, JOBS=2).

The honest student ``honest`` is graded first; then every attack is collected and graded
as ``make collect`` and ``make autograde JOBS=2`` do, with a second honest student
(``beside``) graded among them. Each test asserts that the attacker gains nothing (no
more points than the same wrong ``lif_step`` without the attack), that the honest students
keep full marks, and that source/, release/ and the honest student's submitted/ and
autograded/ files are byte for byte unchanged, and the gradebook still holds the honest
student's grades unchanged. What is left (a student calling snnlearn's reference from an
answer) is in book/instructor_guide.md, "Threat model".
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from grading_helpers import (FORK_BOMB, WRONG_LIF, copy_of_generated, edit_cell, environment,
                             grade_id, gradebook_digest, grading, per_cell_scores,
                             reference_submission)

A = "spiking_neurons"
WRONG = WRONG_LIF
# Kernel-side attacks: code put before the same wrong lif_step.
KERNEL_ATTACKS = {
    # Replace its own notebook (and plant links) so that the grader, outside the sandbox,
    # writes the graded notebook through them into the course.
    "relinks_its_notebook": (
        "import os, glob\n"
        "for name in glob.glob('*'):\n"
        "    try:\n"
        "        os.remove(name)\n"
        "    except OSError:\n"
        "        pass\n"
        "for name, to in [('spiking_neurons.ipynb', {course!r} + '/gradebook.db'),\n"
        "                 ('timestamp.txt', {course!r} + '/source/spiking_neurons/spiking_neurons.ipynb'),\n"
        "                 ('other.ipynb', {course!r} + '/submitted/honest/spiking_neurons/spiking_neurons.ipynb')]:\n"
        "    try:\n"
        "        os.symlink(to, name)\n"
        "    except OSError:\n"
        "        pass\n"
        "try:\n"
        "    os.mkdir('folder.ipynb')\n"
        "except OSError:\n"
        "    pass\n"),
    # Print every cell's text (the hidden tests' checks would be among them) into outputs.
    "leaks_hidden_tests": (
        "_seen = []\n"
        "def _leak(result):\n"
        "    _seen.append(result.info.raw_cell)\n"
        "    print('LEAK', result.info.raw_cell)\n"
        "get_ipython().events.register('post_run_cell', _leak)\n"),
    # Fork until the process limit: with one user for all kernels this failed the others.
    "fork_bomb": FORK_BOMB,
    # Shared memory and the scratch folder: memory and disk the address-space limit misses.
    "fills_shm_and_disk": (
        "_wrote = {}\n"
        "for _where in ('/dev/shm/hog', 'hog'):\n"
        "    _n = 0\n"
        "    try:\n"
        "        for _k in range(64):\n"
        "            with open(f'{_where}{_k}', 'wb') as _f:\n"
        "                _f.write(b'x' * 2**25)\n"
        "            _n += 1\n"
        "    except OSError:\n"
        "        pass\n"
        "    _wrote[_where] = _n * 32\n"
        "print('MiB written', _wrote)\n"),
    # Flood the raw stdout file descriptor (not a Jupyter stream): 256 MiB in no time.
    "floods_raw_stdout": "import os\nos.write(1, b'x' * 2**28)\nos.write(2, b'y' * 2**26)\n",
    # Replace the grader's emit with one that claims the expected values, and send
    # malformed data (object arrays, absurd shapes, a pickle) in its name.
    "forges_results": (
        "from IPython.display import publish_display_data\n"
        "_MIME = 'application/vnd.snnlearn.result+json'\n"
        "def _snnlearn_emit(part, names):\n"
        "    publish_display_data({_MIME: {'part': part, 'values': {n: {'t': 'ndarray',\n"
        "        'np': '|O', 'shape': [10**9], 'b64': 'gASV'} for n in names}}})\n"
        "    publish_display_data({_MIME: {'part': part, 'values': {n: {'t': 'pickle',\n"
        "        'v': 'gASV'} for n in names}}})\n"),
}


# The wall clock of one notebook: past every honest or attacking run here (a few seconds
# each), short of the sleeper's 75 s, which it alone stops (the run waits for it).
NOTEBOOK_SECONDS = "60"
# The sleeper's student id: submissions are graded in the order of their ids, so this one
# starts first and its 60 s run beside the others' instead of after them.
SLEEPER = "asleep"


def tree_sums(root: Path, folders) -> dict:
    out = {}
    for folder in folders:
        base = root / folder
        for path in sorted(base.rglob("*")) if base.exists() else []:
            if path.is_file() and not path.is_symlink():
                out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def honest_grades(root: Path, student: str) -> dict:
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(root / "gradebook.db")) as gb:
        nb = gb.find_submission_notebook(A, A, student)
        return {g.name: (float(g.score), float(g.max_score)) for g in nb.grades}


def notebook_with(reference, code: str):
    return edit_cell(reference, "lif_step", source=code + WRONG)


@pytest.fixture(scope="module")
def attacked(tmp_path_factory) -> SimpleNamespace:
    root = copy_of_generated(tmp_path_factory, "attacks")
    base = root.parent
    reference = reference_submission(root, A)
    text = nbformat.writes(reference)
    with environment(SNNLEARN_CELL_TIMEOUT="30", SNNLEARN_INTERRUPT_GRACE="5",
                     SNNLEARN_NOTEBOOK_TIMEOUT=NOTEBOOK_SECONDS):
        # 1. The honest student alone.
        first = base / "first"
        (first / "honest").mkdir(parents=True)
        (first / "honest" / f"{A}.ipynb").write_text(text, encoding="utf-8")
        grading.collect(root, A, first)
        grading.autograde_class(root, [A], jobs=1, echo=False, progress=False)
        protected = ("source", "release", "submitted/honest", "autograded/honest")
        before = tree_sums(root, protected)
        grades_before = honest_grades(root, "honest")
        gradebook_before = gradebook_digest(root)

        # 2. The attacks, collected beside a second honest student.
        downloads = base / "downloads"
        downloads.mkdir()
        with zipfile.ZipFile(downloads / "beside.zip", "w") as zipped:
            zipped.writestr(f"work/{A}.ipynb", text)
        wrong = nbformat.writes(edit_cell(reference, "lif_step", source=WRONG))
        (downloads / "wrong").mkdir()
        (downloads / "wrong" / f"{A}.ipynb").write_text(wrong, encoding="utf-8")
        # A tar whose members climb out, are absolute, or link to the course's files.
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
            for name, data in [("../../escaped.txt", b"x"), ("/tmp/absolute.txt", b"x"),
                               (f"work/{A}.ipynb", wrong.encode())]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tarred.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo(f"{A}.ipynb")
            link.type, link.linkname = tarfile.SYMTYPE, str(root / "source" / A / f"{A}.ipynb")
            tarred.addfile(link)
        (downloads / "climbs_out.tar.gz").write_bytes(buffer.getvalue())
        # A folder whose notebook is a link to the instructor's source notebook.
        (downloads / "links_source").mkdir()
        os.symlink(root / "source" / A / f"{A}.ipynb", downloads / "links_source" / f"{A}.ipynb")
        for name, code in KERNEL_ATTACKS.items():
            (downloads / name).mkdir()
            nb = notebook_with(reference, code.replace("{course!r}", repr(str(root))))
            (downloads / name / f"{A}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
        # Added cells that each sleep within the cell timeout (30 s), together past the
        # notebook's: its wall clock, not one cell's, stops them.
        sleepy = edit_cell(reference, "lif_step", source=WRONG)
        for k in range(3):
            sleepy.cells.append(nbformat.v4.new_code_cell(f"import time\ntime.sleep(25)  # {k}"))
        (downloads / SLEEPER).mkdir()
        (downloads / SLEEPER / f"{A}.ipynb").write_text(nbformat.writes(sleepy), "utf-8")
        stamps, collect_report = grading.collect(root, A, downloads)

        # Grade-time attacks planted in submitted/ directly (as if copied there by hand).
        planted = root / "submitted" / "planted_link" / A
        planted.mkdir(parents=True)
        os.symlink(root / "source" / A / f"{A}.ipynb", planted / f"{A}.ipynb")
        folder_like = root / "submitted" / "folder_like" / A
        (folder_like / f"{A}.ipynb").mkdir(parents=True)
        (folder_like / f"{A}.ipynb" / "inside.txt").write_text("x")
        linked_folder = root / "submitted" / "linked_folder"
        linked_folder.mkdir()
        os.symlink(root / "submitted" / "honest" / A, linked_folder / A)

        started = time.perf_counter()
        results = grading.autograde_class(root, [A], jobs=2, echo=False, progress=False)
        seconds = time.perf_counter() - started
    rows = {r["student_id"]: r for r in grading.build_report(root, [A])}
    cells = per_cell_scores(root, [A])
    print(f"\nattack class graded in {seconds:.0f} s", file=sys.stderr)
    return SimpleNamespace(root=root, before=before, after=tree_sums(root, protected),
                           grades_before=grades_before, grades_after=honest_grades(root, "honest"),
                           gradebook_before=gradebook_before, gradebook_after=gradebook_digest(root),
                           rows=rows, cells=cells, stamps=stamps, collect_report=collect_report,
                           results=results, base=base)


def score(attacked, student) -> float:
    row = attacked.rows[student]
    return float(row["score"]) if row["status"] == "GRADED" else 0.0


@pytest.mark.slow
def test_honest_students_keep_full_marks_and_nothing_of_theirs_changes(attacked):
    assert attacked.before == attacked.after
    assert attacked.grades_before == attacked.grades_after
    # Everything the gradebook held before the attacks' run, for every student in it (not
    # only the honest student's grades), is unchanged after it.
    assert attacked.gradebook_before and set(attacked.gradebook_before) <= set(attacked.gradebook_after)
    for student, digest in attacked.gradebook_before.items():
        assert attacked.gradebook_after[student] == digest, student
    for student in ("honest", "beside"):
        row = attacked.rows[student]
        assert row["status"] == "GRADED" and float(row["score"]) == float(row["max_score"]), row


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(KERNEL_ATTACKS) + [SLEEPER])
def test_kernel_attacks_gain_nothing(attacked, attack):
    wrong = score(attacked, "wrong")
    assert wrong < float(attacked.rows["wrong"]["max_score"])
    assert score(attacked, attack) <= wrong, attacked.rows[attack]
    mine, honest = attacked.cells.get((attack, A), {}), attacked.cells[("wrong", A)]
    assert all(mine.get(g, (0, 0))[0] <= honest[g][0] for g in honest), (mine, honest)


@pytest.mark.slow
def test_the_kernel_never_writes_through_its_links(attacked):
    graded = attacked.root / "autograded" / "relinks_its_notebook" / A
    assert not any(p.is_symlink() for p in graded.rglob("*"))
    assert not (graded / "folder.ipynb").exists()
    nbformat.read(graded / f"{A}.ipynb", 4)  # the graded notebook, not the gradebook


@pytest.mark.slow
def test_hidden_checks_never_reach_the_kernel(attacked):
    nb = nbformat.read(attacked.root / "autograded" / "leaks_hidden_tests" / A / f"{A}.ipynb", 4)
    shown = "".join(str(o.get("text", "")) + str(o.get("evalue", ""))
                    for c in nb.cells for o in c.get("outputs", []))
    source = nbformat.read(attacked.root / "source" / A / f"{A}.ipynb", 4)
    checks = []
    for cell in source.cells:
        if "### BEGIN HIDDEN TESTS" in cell.source and "# [check]" in cell.source:
            part = cell.source.split("# [check]", 1)[1].split("### END HIDDEN TESTS")[0]
            checks += [line.strip() for line in part.split("\n") if len(line.strip()) > 20]
    assert checks
    for line in checks:
        assert line not in shown, line


@pytest.mark.slow
def test_a_fork_bomb_hits_only_its_own_process_limit(attacked):
    """It runs out of its own processes (its kernel may die of it: FAILED, 0 points); the
    honest student graded beside it keeps full marks (the test above)."""
    row = attacked.rows["fork_bomb"]
    if row["status"] == "GRADED":
        nb = nbformat.read(attacked.root / "autograded" / "fork_bomb" / A / f"{A}.ipynb", 4)
        (cell,) = [c for c in nb.cells if grade_id(c) == "lif_step"]
        assert "forked" in "".join(str(o.get("text", "")) for o in cell.outputs)
    else:
        assert row["status"] == "FAILED" and row["notes"], row


@pytest.mark.slow
def test_shared_memory_and_the_scratch_folder_are_capped(attacked):
    nb = nbformat.read(attacked.root / "autograded" / "fills_shm_and_disk" / A / f"{A}.ipynb", 4)
    (cell,) = [c for c in nb.cells if grade_id(c) == "lif_step"]
    text = "".join(str(o.get("text", "")) for o in cell.outputs)
    assert "MiB written" in text, cell.outputs
    written = eval(text.split("MiB written", 1)[1].strip().split("\n")[0])  # a dict literal
    assert written["/dev/shm/hog"] <= 64 and written["hog"] <= 256, written
    kept = sum(p.stat().st_size for p in (attacked.root / "autograded" / "fills_shm_and_disk")
               .rglob("*") if p.is_file())
    assert kept < 2**20


@pytest.mark.slow
def test_a_notebook_past_its_wall_clock_fails_with_the_reason(attacked):
    row = attacked.rows[SLEEPER]
    assert row["status"] == "FAILED" and "wall-clock budget" in row["notes"], row


@pytest.mark.slow
def test_collect_skips_bad_members_and_files_the_rest(attacked):
    report = "\n".join(attacked.collect_report)
    assert "climbs_out: skipped '../../escaped.txt'" in report
    assert "climbs_out: skipped '/tmp/absolute.txt'" in report
    assert f"climbs_out: skipped {A}.ipynb: a symbolic link" in report
    assert f"links_source: skipped {A}.ipynb: a symbolic link" in report
    assert "links_source: no spiking_neurons.ipynb" in report
    assert not list(attacked.base.rglob("escaped.txt")) and not Path("/tmp/absolute.txt").exists()
    assert {"beside", "climbs_out", "wrong"} <= set(attacked.stamps)
    assert "links_source" not in attacked.stamps
    assert score(attacked, "climbs_out") == score(attacked, "wrong")


@pytest.mark.parametrize("student, why", [
    ("planted_link", f"skipped {A}.ipynb: a symbolic link"),
    ("folder_like", f"skipped {A}.ipynb: a folder named like a file"),
    ("linked_folder", "could not be read as a folder"),
])
@pytest.mark.slow
def test_links_and_odd_files_in_submitted_are_refused_at_grade_time(attacked, student, why):
    row = attacked.rows[student]
    assert why in row["notes"], row
    assert score(attacked, student) == 0.0, row
