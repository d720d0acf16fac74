"""Grading helpers shared by the Makefile, the scripts and the tests: autograde a class
safely and in parallel, and report on every submission.

``make autograde`` runs ``python exercises/grading.py autograde [--jobs N]``. For each
assignment with submissions:

1. the assignment is recorded in the gradebook if it is not there yet (fresh clone), and a
   *template* scratch course is made: nbgrader_config.py, sandbox.py, source/ and release/ of
   the assignment, and a private SQLite gradebook that knows it (due date included);
2. every submission (or batch of ``--batch`` submissions) is graded by its own
   ``nbgrader autograde`` run in a copy of the template, ``--jobs`` at a time (default: the
   number of cores), with a progress bar. nbgrader runs each kernel in the bubblewrap sandbox
   of sandbox.py, which sees only its notebook's scratch folder, never the real course;
3. the parent process alone merges each result into the real course: the autograded
   notebooks, and the grades, comments, timestamp and late penalty into the real gradebook
   (``GRADEBOOK_URL`` or exercises/gradebook.db), so workers never write it concurrently.

Then it writes

- ``grading_report.csv``: one row per student and assignment, with the columns
  ``assignment, student_id, status, score, max_score, seconds, notes``;
- ``grading_report.txt``: the same as a table, failed submissions first.

``status`` is

``GRADED``
    nbgrader ran the notebook; ``score`` is what the gradebook holds, less the late penalty
    (as nbgrader's export computes it).
``FAILED``
    nbgrader could not grade it (the file is not a notebook, the kernel died or did not stop
    after a timeout, its output stopped arriving, ...) or its kernel's process tree ran
    into its budget (a cgroup's memory or processes: its grades are not merged): ``notes``
    says why. nbgrader's own ``export`` lists such a
    submission with 0 points; look at it by hand, fix or ask for a new file, and run
    ``make autograde`` again (failed submissions are retried, graded ones are kept).
``NOT SUBMITTED``
    the student is in the gradebook but has no submission for this assignment.

``notes`` starts with ``TAMPERED: <cells> (why)`` when an unsplit test cell did not really
run to its end (sandbox.py; split cells are judged outside the kernel, verdict.py), lists
the entries of a submission that were not regular files (skipped), and flags resource limits hit, read-only cells (tests, set-up) that
a student changed or deleted (nbgrader restores them before grading), cells stopped by the
time limit, and notebooks missing from a submission. ``seconds`` is the time the
submission's notebook took to run, kernel start included.

Other commands: ``collect`` (file downloaded submissions: archives unpacked member by
member, links never followed, times from the instructor's side), ``duedate`` (an
assignment's due date), ``feedback`` (learners' HTML feedback, one nbgrader run),
``canvas`` (canvas_grades.csv), ``report`` (only the report).
Every file a student controls is read through safe_files.py (no links, capped).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
import tempfile
import time
from typing import Dict, Iterable, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_sources  # noqa: E402  (the one place that puts the venv's bin/ on PATH)
import safe_files  # noqa: E402  (never follow a link the student controls)
import sandbox  # noqa: E402  (the kernel's sandbox and limits)
from results import KernelRun, SubmissionRecord, SubmissionResult  # noqa: E402

COURSE = Path(__file__).resolve().parent
# nbgrader's Gradebook runs alembic by name (in this process too): this Python's bin/ first.
os.environ["PATH"] = build_sources.venv_path()
COLUMNS = ["assignment", "student_id", "status", "score", "max_score", "seconds", "notes"]


# --- running nbgrader ----------------------------------------------------------------------

def gradebook_url(course: Path) -> str:
    """GRADEBOOK_URL (any SQLAlchemy URL) or the SQLite file gradebook.db of the course."""
    return os.environ.get("GRADEBOOK_URL") or "sqlite:///" + str(course / "gradebook.db")


nbgrader_env = build_sources.nbgrader_env


def nbgrader_command(*args: str) -> List[str]:
    return [str(Path(sys.executable).parent / "nbgrader"), *args]


def log_path(course: Path, assignment: str) -> Path:
    return course / f"nbgrader_autograde_{assignment}.log"


def run_log_path(course: Path, assignment: str, student: str) -> Path:
    """Per submission: how long grading took, which limits it hit (JSON)."""
    return course / "grading_runs" / assignment / f"{student}.json"


def assignment_in_gradebook(course: Path, assignment: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    url = gradebook_url(course)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return False
    with Gradebook(url) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True


def record_in_gradebook(course: Path, assignment: str, echo: bool = True,
                        env: Optional[Dict[str, str]] = None) -> int:
    """Record an assignment (its graded cells and points) in the gradebook.

    ``nbgrader autograde`` needs the assignment in the gradebook, which only
    ``generate_assignment`` puts there, and the gradebook is not committed: on a fresh clone
    it is empty. Run ``generate_assignment`` into a scratch folder, so that the committed
    ``release/`` notebooks stay as they are. ``assignment`` may be ``"*"``: every folder of
    source/, in one nbgrader run.
    """
    scratch = ".gradebook_release"
    command = nbgrader_command("generate_assignment", assignment, "--force",
                               f"--CourseDirectory.release_directory={scratch}")
    result = subprocess.run(command, cwd=course, env=env or nbgrader_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    shutil.rmtree(course / scratch, ignore_errors=True)
    if echo or result.returncode != 0:
        sys.stdout.write(result.stdout)
    return result.returncode


# Files a scratch course needs: the configuration and what it imports.
COURSE_FILES = ("nbgrader_config.py", "sandbox.py", "verdict.py", "safe_files.py",
                "kernel_cgroup.py", "limits.py")


def make_template(course: Path, assignments: List[str], scratch_root: Path) -> Path:
    """A scratch course with a private SQLite gradebook that knows ``assignments`` (their
    cells, points and due dates, copied from the real gradebook). Every submission's scratch
    course starts as a copy of it. One ``generate_assignment`` run records them all (its
    source/ holds exactly these assignments, so ``"*"`` names them): one nbgrader start-up
    for the class instead of one per assignment."""
    from nbgrader.api import Gradebook

    template = scratch_root / "template"
    template.mkdir(parents=True)
    for name in COURSE_FILES:
        shutil.copy2(course / name, template / name)
    for assignment in assignments:
        for kind in ("source", "release"):
            if (course / kind / assignment).is_dir():
                shutil.copytree(course / kind / assignment, template / kind / assignment)
    env = nbgrader_env(GRADEBOOK_URL=None)
    if record_in_gradebook(template, "*", echo=False, env=env) != 0:
        raise RuntimeError(f"could not record {', '.join(assignments)} in a scratch gradebook")
    with Gradebook(gradebook_url(course)) as real:
        duedates = {a: real.find_assignment(a).duedate for a in assignments}
    with Gradebook("sqlite:///" + str(template / "gradebook.db")) as gb:
        for assignment, duedate in duedates.items():
            if duedate is not None:
                gb.update_or_create_assignment(assignment, duedate=duedate)
    return template


def grade_in_scratch(template: Path, course: Path, assignment: str, students: List[str],
                     scratch_root: Path, timeout: Optional[float] = None
                     ) -> List[SubmissionResult]:
    """Autograde a batch of submissions in a copy of the template course (a worker: it never
    touches the real course; each kernel still sees only its own notebook's folder).
    Returns, per student, what the parent needs to merge the result."""
    started = time.perf_counter()
    scratch = scratch_root / "batches" / assignment / students[0]
    shutil.copytree(template, scratch)
    skipped: Dict[str, List[str]] = {}
    for student in students:
        # Regular files only, never through a link (a link to source/ would score 18/18).
        try:
            skipped[student] = safe_files.copy_tree(
                course / "submitted" / student / assignment,
                scratch / "submitted" / student / assignment)
        except OSError as error:
            skipped[student] = [f"the submission folder could not be read as a folder "
                                f"(a link?): {error.strerror or error}; nothing was copied"]
    runs_file = scratch / "runs.jsonl"
    env = nbgrader_env(GRADEBOOK_URL=None, SNNLEARN_COURSE_ROOT=str(course),
                       SNNLEARN_SCRATCH_ROOT=str(scratch_root), SNNLEARN_RUNS_FILE=str(runs_file))
    command = nbgrader_command("autograde", assignment, "--force")
    if len(students) == 1:
        command += ["--student", students[0]]
    output, rc = run_capped(command, cwd=scratch, env=env, timeout=timeout)
    wall = time.perf_counter() - started
    if "Exception while loading config file" in output:
        # nbgrader goes on without the course's configuration: no sandbox, no verdict
        # outside the kernel. Nothing of such a run may reach the gradebook.
        output += ("\n[snnlearn] nbgrader could not load the course configuration "
                   "(nbgrader_config.py): the run is discarded\n")
        rc = -2
    try:
        text = safe_files.read_capped(runs_file, 2**20).decode("utf-8", "replace")
    except OSError:
        text = ""
    runs = [run for run in map(KernelRun.from_json, text.splitlines()) if run is not None]
    out = []
    for student in students:
        mine = [r for r in runs if r.belongs_to(student, assignment)]
        seconds = sum(r.seconds for r in mine) or wall / len(students)
        out.append(SubmissionResult(
            assignment, student, str(scratch), rc=rc,
            log=output if len(students) == 1 else "", seconds=round(seconds, 1),
            limits=[r.limit for r in mine if r.limit],
            budget=[r.budget for r in mine if r.budget],
            skipped=skipped.get(student, []) + [x for r in mine for x in r.skipped]))
    if len(students) > 1:
        out[0].log = output
    return out


OUTPUT_HEAD, OUTPUT_TAIL = 64 * 2**10, 512 * 2**10


def run_capped(command: List[str], cwd: Path, env: Dict[str, str],
               timeout: Optional[float] = None) -> Tuple[str, int]:
    """(output, exit status) of a command, stdout and stderr together; only the first
    OUTPUT_HEAD and last OUTPUT_TAIL bytes are kept, however much it writes."""
    import threading

    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    head, tail, dropped = bytearray(), bytearray(), [0]

    def read() -> None:
        while True:
            chunk = process.stdout.read1(65536)
            if not chunk:
                return
            room = OUTPUT_HEAD - len(head)
            head.extend(chunk[:max(room, 0)])
            tail.extend(chunk[max(room, 0):])
            if len(tail) > OUTPUT_TAIL:
                dropped[0] += len(tail) - OUTPUT_TAIL
                del tail[:len(tail) - OUTPUT_TAIL]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        rc = process.wait(timeout=timeout)
        note = ""
    except subprocess.TimeoutExpired:
        process.kill()
        rc = process.wait()
        rc, note = -1, f"\nbatch grading timed out after {timeout} s\n"
    reader.join(timeout=10)
    text = head.decode("utf-8", "replace")
    if dropped[0]:
        text += f"\n[... {dropped[0]} bytes of output left out ...]\n"
    return text + tail.decode("utf-8", "replace") + note, rc


def merge_result(course: Path, result: SubmissionResult) -> bool:
    """Copy one scratch result into the real course: the autograded notebooks and the
    submission's grades, comments, timestamp and late penalty into the real gradebook.
    Only the parent process calls it, so parallel workers never write the gradebook.
    A discarded run or one whose kernel ran into a budget of its tree is not merged."""
    from nbgrader.api import Gradebook, MissingEntry

    scratch, assignment, student = Path(result.scratch), result.assignment, result.student
    if result.rc == -2 or result.failed_budget:
        return False
    graded = scratch / "autograded" / student / assignment
    try:
        with Gradebook("sqlite:///" + str(scratch / "gradebook.db")) as gb:
            theirs = gb.find_submission(assignment, student)
            timestamp = theirs.timestamp
            notebooks = {}
            for nb in theirs.notebooks:
                notebooks[nb.name] = {
                    "penalty": nb.late_submission_penalty,
                    "grades": {g.name: (g.auto_score, g.manual_score, g.extra_credit,
                                        g.needs_manual_grade) for g in nb.grades},
                    "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments}}
    except MissingEntry:
        return False
    if not graded.is_dir() or not notebooks:
        return False
    target = course / "autograded" / student / assignment
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    # The graded notebooks and the timestamp only: regular files, never through a link.
    safe_files.copy_tree(graded, target, only=lambda rel: "/" not in rel and (
        rel.endswith(".ipynb") or rel == "timestamp.txt"))
    with Gradebook(gradebook_url(course)) as gb:
        try:
            gb.find_student(student)
        except MissingEntry:
            gb.add_student(student)
        gb.update_or_create_submission(assignment, student, timestamp=timestamp)
        for name, data in notebooks.items():
            nb = gb.find_submission_notebook(name, assignment, student)
            nb.late_submission_penalty = data["penalty"]
            for grade in nb.grades:
                if grade.name in data["grades"]:
                    (grade.auto_score, grade.manual_score, grade.extra_credit,
                     grade.needs_manual_grade) = data["grades"][grade.name]
            for comment in nb.comments:
                if comment.name in data["comments"]:
                    comment.auto_comment, comment.manual_comment = data["comments"][comment.name]
        gb.db.commit()
    return True


def already_graded(course: Path, assignment: str, student: str) -> bool:
    return (course / "autograded" / student / assignment).is_dir()


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, enabled: bool = True, width: int = 30):
        self.total, self.done, self.enabled, self.width = total, 0, enabled, width
        self.started = time.perf_counter()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = int(self.width * self.done / max(self.total, 1))
        elapsed = time.perf_counter() - self.started
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] "
                         f"{self.done}/{self.total} {elapsed:5.0f} s  {label[:40]:<40}")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def take_result(course: Path, result: SubmissionResult, results: dict, logs: dict) -> None:
    """Merge one submission's result (parent only) and keep its time and limits."""
    a, s = result.assignment, result.student
    result.merged = merge_result(course, result)
    if not result.merged:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(gradebook_url(course)) as gb:  # FAILED students are listed too
            try:
                gb.find_student(s)
            except MissingEntry:
                gb.add_student(s)
    if result.log:
        logs.setdefault(a, []).append((s, result.log))
    record = run_log_path(course, a, s)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(result.record().to_json(), encoding="utf-8")
    results[(s, a)] = result


def autograde_class(course: Path, assignments: List[str], jobs: int = 0, force: bool = False,
                    echo: bool = True, progress: bool = True,
                    batch: int = 1) -> Dict[Tuple[str, str], SubmissionResult]:
    """Grade every submission of ``assignments``, ``jobs`` at a time, each kernel in the
    sandbox, in scratch courses of ``batch`` submissions each (1: one nbgrader run per
    submission; more saves nbgrader's start-up, about 3 s of CPU each); merge the results
    into the real gradebook from this (the parent) process only.
    Returns {(student, assignment): result} of the submissions graded in this run."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    sandbox.check_sandbox()
    jobs = jobs or default_jobs()
    results: Dict[Tuple[str, str], SubmissionResult] = {}
    scratch_root = Path(tempfile.mkdtemp(prefix="snnlearn-grading-"))
    try:
        work = []
        for assignment in assignments:
            students = sorted(p.parent.name for p in (course / "submitted").glob(f"*/{assignment}")
                              if p.is_dir())
            if not students:
                print(f"no submissions for {assignment}")
                continue
            if not assignment_in_gradebook(course, assignment):
                print(f"recording {assignment} in the gradebook (nbgrader generate_assignment)")
                if record_in_gradebook(course, assignment, echo=echo) != 0:
                    print(f"could not record {assignment} in the gradebook: see above")
                    continue
            todo = [s for s in students if force or not already_graded(course, assignment, s)]
            size = max(1, batch)
            work += [(assignment, todo[i:i + size]) for i in range(0, len(todo), size)]
        template = (make_template(course, sorted({a for a, _ in work}), scratch_root)
                    if work else None)
        bar = Progress(sum(len(group) for _, group in work), enabled=progress)
        logs: Dict[str, List[Tuple[str, str]]] = {}
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(grade_in_scratch, template, course, a, group, scratch_root)
                       for a, group in work]
            for future in as_completed(futures):
                batch_results = future.result()
                for result in batch_results:
                    take_result(course, result, results, logs)
                    bar.step(f"{result.assignment}/{result.student} {result.seconds:.0f} s")
                shutil.rmtree(batch_results[0].scratch, ignore_errors=True)
        for assignment, entries in logs.items():
            text = "".join(f"===== {s} =====\n{log}" for s, log in sorted(entries))
            log_path(course, assignment).write_text(text, encoding="utf-8")
            if echo:
                sys.stdout.write(text)
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
    return results


def generate_feedback(course: Path, assignment: Optional[str] = None) -> int:
    """HTML feedback (feedback/<student>/<assignment>/) for every autograded submission of
    ``assignment``, or of every assignment (None) in ONE nbgrader run (``"*"``): 9
    assignments 24 s against 56 s one run each, measured back to back on a loaded machine,
    the same pages. Returns nbgrader's exit status (1 when nothing is autograded yet)."""
    pattern = assignment or "*"
    if not list((course / "autograded").glob(f"*/{pattern}")):
        print(f"nothing autograded{f' for {assignment}' if assignment else ''} yet: "
              "make autograde first")
        return 1
    result = subprocess.run(nbgrader_command("generate_feedback", pattern, "--force"),
                            cwd=course, env=nbgrader_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        sys.stdout.write(result.stdout)
    return result.returncode


# --- reading the results ---------------------------------------------------------------------

def assignments_with_submissions(course: Path) -> List[str]:
    return sorted({p.name for p in (course / "submitted").glob("*/*") if p.is_dir()})


def released_notebooks(course: Path, assignment: str) -> List[Path]:
    return sorted((course / "release" / assignment).glob("*.ipynb"))


def _submission_key(path: str) -> Optional[Tuple[str, str]]:
    """(student_id, assignment) from a path .../submitted/<student>/<assignment>[/...]."""
    parts = Path(path.rstrip("/").rstrip(",")).parts
    if "submitted" in parts:
        index = len(parts) - 1 - parts[::-1].index("submitted")
        if len(parts) >= index + 3:
            return parts[index + 1], parts[index + 2]
    return None


def failures_from_log(text: str) -> Dict[Tuple[str, str], str]:
    """{(student_id, assignment): reason} for every submission nbgrader gave up on."""
    failures: Dict[Tuple[str, str], str] = {}
    lines = text.splitlines()
    for number, line in enumerate(lines):
        match = re.search(r"While processing assignment (\S+), the kernel became unresponsive",
                          line)
        if match:
            key = _submission_key(match.group(1))
            if key:
                failures[key] = ("the kernel did not stop after a cell ran past the time limit "
                                 "(it ignored the interrupt); nothing was graded")
            continue
        match = re.search(r"There was an error processing assignment: (\S+)", line)
        if not match:
            continue
        key = _submission_key(match.group(1))
        if not key:
            continue
        # The traceback follows, as lines without a "[App | LEVEL]" prefix.
        traceback = []
        for follow in lines[number + 1:]:
            if follow.startswith("[") and "Traceback" not in follow:
                break
            traceback.append(follow)
        last = next((t.strip() for t in reversed(traceback) if t.strip()), "unknown error")
        if len(last) > 300:
            last = last[:300] + "..."
        failures[key] = f"nbgrader could not grade it: {last}"
    return failures


def _load_json(path: Path, limit: int = 64 * 2**20):
    """A JSON file's data, or None: a regular file only (never through a link), at most
    ``limit`` bytes."""
    try:
        return json.loads(safe_files.read_capped(path, limit).decode("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None


def _nbgrader_meta(cell: dict) -> dict:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbgrader = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return nbgrader if isinstance(nbgrader, dict) else {}


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def tampered_cells(released: Path, submitted: Path) -> List[str]:
    """Read-only cells of the released notebook that the submission changed or deleted."""
    release, submission = _load_json(released), _load_json(submitted)
    if not (isinstance(release, dict) and isinstance(submission, dict)):
        return []
    cells = {}
    for cell in submission.get("cells", []) or []:
        grade_id = _nbgrader_meta(cell).get("grade_id")
        if grade_id:
            cells.setdefault(grade_id, cell)
    notes = []
    for cell in release.get("cells", []):
        meta = _nbgrader_meta(cell)
        if not meta.get("locked"):
            continue
        grade_id = meta.get("grade_id")
        theirs = cells.get(grade_id)
        if theirs is None:
            notes.append(f"deleted read-only cell {grade_id}")
            continue
        their_meta = _nbgrader_meta(theirs)
        changed = (_source(theirs) != _source(cell)
                   or theirs.get("cell_type") != cell.get("cell_type")
                   or any(their_meta.get(k) != meta.get(k) for k in ("grade", "locked", "points",
                                                                       "solution")))
        if changed:
            notes.append(f"changed read-only cell {grade_id}")
    return notes


def timed_out_cells(autograded: Path) -> List[str]:
    nb = _load_json(autograded)
    if not isinstance(nb, dict):
        return []
    out = []
    for index, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") == "error" and output.get("ename") == "CellTimeoutError":
                out.append(_nbgrader_meta(cell).get("grade_id") or f"#{index}")
                break
    return out


def integrity_and_limits(autograded: Path) -> Tuple[List[str], List[str]]:
    """(TAMPERED findings, limits hit) read from an autograded notebook's outputs."""
    nb = _load_json(autograded)
    tampered, hit = [], []
    lim = sandbox.limits()  # the environment's (the report runs outside nbgrader)
    if not isinstance(nb, dict):
        return tampered, hit
    for index, cell in enumerate(nb.get("cells", [])):
        where = _nbgrader_meta(cell).get("grade_id") or f"#{index}"
        for output in cell.get("outputs", []) or []:
            kind, ename = output.get("output_type"), output.get("ename", "")
            text = output.get("text", "") if kind == "stream" else str(output.get("evalue", ""))
            if kind == "error" and ename == "GradingIntegrityError":
                tampered.append(f"{where} ({text.replace('TAMPERED: ', '')})")
            elif kind == "error" and ename == "MemoryError":
                hit.append(f"memory limit hit ({lim.memory_bytes // 2**20} MiB) in {where}")
            elif kind == "error" and ("Resource temporarily unavailable" in text
                                      or ename == "BlockingIOError"):
                hit.append(f"process limit hit ({lim.processes}) in {where}")
            elif kind == "error" and "File too large" in text:
                hit.append(f"file size limit hit ({lim.file_bytes // 2**20} MiB) in {where}")
            elif kind == "stream" and "[output limit hit" in text:
                hit.append(f"output limit hit ({lim.output_bytes // 2**10} KiB) in {where}")
    return tampered, hit


def score_after_penalty(submission) -> float:
    """A submission's score as nbgrader's export reports it: the late penalty (computed by
    nbgrader_config.PerDayLatePenalty, the one rule) taken off, never below 0."""
    penalty = float(submission.late_submission_penalty or 0.0)
    return max(0.0, float(submission.score) - penalty)


def gradebook_scores(course: Path, db_url: Optional[str] = None):
    """({(student, assignment): (score, max_score)}, [student ids], {assignment: max})."""
    from nbgrader.api import Gradebook, MissingEntry

    db = db_url or gradebook_url(course)
    scores, students, maxima = {}, [], {}
    if db.startswith("sqlite:///") and not Path(db[len("sqlite:///"):]).exists():
        return scores, students, maxima
    with Gradebook(db) as gb:
        students = sorted(s.id for s in gb.students)
        for assignment in gb.assignments:
            maxima[assignment.name] = float(assignment.max_score)
            for student in students:
                try:
                    submission = gb.find_submission(assignment.name, student)
                except MissingEntry:
                    continue
                scores[(student, assignment.name)] = (score_after_penalty(submission),
                                                      float(submission.max_score))
    return scores, students, maxima


def build_report(course: Path, assignments: Optional[List[str]] = None) -> List[dict]:
    scores, students, maxima = gradebook_scores(course)
    names = assignments or sorted(set(assignments_with_submissions(course)) | set(maxima))
    rows = []
    for assignment in names:
        log = log_path(course, assignment)
        failures = failures_from_log(log.read_text(encoding="utf-8", errors="replace")) \
            if log.exists() else {}
        released = released_notebooks(course, assignment)
        submitted_students = sorted(p.parent.name for p in
                                    (course / "submitted").glob(f"*/{assignment}") if p.is_dir())
        for student in sorted(set(submitted_students) | set(students)):
            row = {"assignment": assignment, "student_id": student, "score": "", "seconds": "",
                   "max_score": f"{maxima.get(assignment, 0):g}" if assignment in maxima else "",
                   "notes": ""}
            notes: List[str] = []
            folder = course / "submitted" / student / assignment
            if not folder.is_dir():
                row["status"] = "NOT SUBMITTED"
                row["score"] = "0"
                rows.append(row)
                continue
            graded = True
            record = SubmissionRecord.from_data(_load_json(run_log_path(course, assignment,
                                                                        student)))
            if record is not None:
                row["seconds"] = "" if record.seconds is None else f"{record.seconds}"
                notes += record.limits + record.skipped
                if record.budget:  # the kernel's tree ran into a budget: not graded
                    failures.setdefault((student, assignment), "; ".join(
                        dict.fromkeys(record.budget)) + ": not graded")
            if folder.is_symlink():
                notes.append("the submission folder is a symbolic link: not graded")
            for notebook in released:
                theirs = folder / notebook.name
                if not theirs.exists() and not theirs.is_symlink():
                    others = sorted(p.name for p in folder.iterdir())
                    notes.append(f"no {notebook.name} in the submission (it has: "
                                 f"{', '.join(others) or 'nothing'}); scored 0")
                    continue
                notes += tampered_cells(notebook, theirs)
                autograded = course / "autograded" / student / assignment / notebook.name
                if not autograded.exists():
                    graded = False
                else:
                    notes += [f"cell {c} stopped at the time limit (0 points)"
                              for c in timed_out_cells(autograded)]
                    tampered, hit = integrity_and_limits(autograded)
                    if tampered:
                        notes.insert(0, "TAMPERED: " + ", ".join(tampered))
                    notes += hit
            key = (student, assignment)
            if not graded or key in failures:
                row["status"] = "FAILED"
                notes.insert(0, failures.get(key, "not graded yet (no autograded notebook): "
                                                  "run make autograde"))
            elif key in scores:
                row["status"] = "GRADED"
                score, maximum = scores[key]
                row["score"], row["max_score"] = f"{score:g}", f"{maximum:g}"
            else:
                row["status"] = "FAILED"
                notes.insert(0, "not in the gradebook: run make autograde")
            row["notes"] = "; ".join(notes)
            rows.append(row)
    order = {"FAILED": 0, "NOT SUBMITTED": 1, "GRADED": 2}
    rows.sort(key=lambda r: (r["assignment"], order.get(r["status"], 3), r["student_id"]))
    return rows


def write_report(course: Path, rows: List[dict]) -> Tuple[Path, Path]:
    csv_path, txt_path = course / "grading_report.csv", course / "grading_report.txt"
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    failed = [r for r in rows if r["status"] == "FAILED"]
    lines = [f"Grading report: {len(rows)} rows, "
             f"{sum(r['status'] == 'GRADED' for r in rows)} graded, {len(failed)} FAILED, "
             f"{sum(r['status'] == 'NOT SUBMITTED' for r in rows)} not submitted."]
    if failed:
        lines.append("FAILED submissions were NOT graded (nbgrader's export shows them as 0): "
                     "see the notes and the nbgrader_autograde_<assignment>.log files.")
    lines.append("")
    width = max([len(r["student_id"]) for r in rows] + [10])
    current = None
    for row in rows:
        if row["assignment"] != current:
            current = row["assignment"]
            lines += ["", f"== {current} =="]
        score = f"{row['score']}/{row['max_score']}" if row["status"] == "GRADED" else ""
        seconds = f"{row['seconds']} s" if row.get("seconds") else ""
        line = f"{row['student_id']:<{width}}  {row['status']:<13}  {score:>9}  {seconds:>7}"
        if row["notes"]:
            line += f"  {row['notes']}"
        lines.append(line.rstrip())
    txt_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, txt_path


def write_canvas_csv(course: Path, path: Optional[Path] = None) -> Path:
    """Grades in Canvas's gradebook-import layout: Student, ID, SIS User ID, SIS Login ID,
    Section, then one column per assignment, and a "Points Possible" row. The nbgrader
    student id goes into "SIS User ID" (Canvas matches students on it)."""
    from nbgrader.api import Gradebook, MissingEntry

    path = path or course / "canvas_grades.csv"
    with Gradebook(gradebook_url(course)) as gb:
        assignments = sorted(gb.assignments, key=lambda a: (a.duedate is None, a.duedate, a.name))
        header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
        header += [a.name for a in assignments]
        rows = [["Points Possible", "", "", "", ""] + [f"{a.max_score:g}" for a in assignments]]
        for student in sorted(gb.students, key=lambda s: s.id):
            name = ", ".join(x for x in (student.last_name, student.first_name) if x) or student.id
            row = [name, "", student.id, student.id, ""]
            for assignment in assignments:
                try:
                    submission = gb.find_submission(assignment.name, student.id)
                    row.append(f"{score_after_penalty(submission):g}")
                except MissingEntry:
                    row.append("0")
            rows.append(row)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def utc_text(when) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


def read_submission_times(path: Path) -> Dict[str, str]:
    """{student: time} from an LMS export: a CSV with the columns ``student_id`` and
    ``submitted_at`` (any date nbgrader's parse_utc reads; without a zone: UTC)."""
    from nbgrader.utils import parse_utc

    text = safe_files.read_capped(path, 16 * 2**20).decode("utf-8-sig")
    times = {}
    for row in csv.DictReader(text.splitlines()):
        student, when = (row.get("student_id") or "").strip(), (row.get("submitted_at") or "")
        if student and when.strip():
            times[student] = utc_text(parse_utc(when.strip()))
    return times


def collect(course: Path, assignment: str, downloads: Path,
            times_csv: Optional[Path] = None) -> Tuple[Dict[str, str], List[str]]:
    """File each student's download as submitted/<student>/<assignment>/<assignment>.ipynb.

    ``downloads`` holds one ``<student_id>.zip`` (or .tar, .tar.gz, ...) or one folder
    ``<student_id>/`` per student, with ``<assignment>.ipynb`` at any depth. Archives are
    unpacked member by member (safe_files.extract_archive: ``../``, absolute paths, links
    and devices are skipped), folders copied regular file by regular file; nothing is ever
    followed through a link. ``timestamp.txt`` (what nbgrader's late penalty reads) comes
    from the instructor's side: the LMS export's ``submitted_at`` column (``times_csv``)
    or else the time the download itself was written on this machine (its modification
    time), never a date inside the student's archive.
    Returns ({student: timestamp}, report lines: one per skipped entry or member)."""
    import datetime

    times = read_submission_times(times_csv) if times_csv else {}
    stamps: Dict[str, str] = {}
    report: List[str] = []
    staging = Path(tempfile.mkdtemp(prefix="snnlearn-collect-"))
    try:
        for name in sorted(os.listdir(downloads)):
            entry = downloads / name
            info = os.lstat(entry)
            suffix = next((x for x in ARCHIVE_SUFFIXES if name.lower().endswith(x)), None)
            student = name[: -len(suffix)] if suffix and stat.S_ISREG(info.st_mode) else name
            if not STUDENT_ID.match(student):
                report.append(f"skipped {name!r}: not named <student_id>, <student_id>.zip, ...")
                continue
            unpacked = staging / student
            if stat.S_ISREG(info.st_mode) and suffix:
                lines = safe_files.extract_archive(entry, unpacked)
            elif stat.S_ISDIR(info.st_mode):
                lines = safe_files.copy_tree(entry, unpacked)
            else:
                report.append(f"skipped {name}: {safe_files._kind(info.st_mode)}")
                continue
            report += [f"{student}: {line}" for line in lines]
            found = sorted((p for p in unpacked.rglob(f"{assignment}.ipynb")
                            if ".ipynb_checkpoints" not in p.parts and p.is_file()
                            and not p.is_symlink()), key=lambda p: (len(p.parts), str(p)))
            if not found:
                report.append(f"{student}: no {assignment}.ipynb in {name}: not filed")
                continue
            if len(found) > 1:
                report.append(f"{student}: {len(found)} copies of {assignment}.ipynb; filed "
                              f"{found[0].relative_to(unpacked)}")
            target = course / "submitted" / student / assignment
            if target.is_symlink():
                target.unlink()
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            safe_files.write_new(target / f"{assignment}.ipynb", safe_files.read_capped(found[0]))
            when = times.get(student) or utc_text(datetime.datetime.fromtimestamp(
                info.st_mtime, datetime.timezone.utc).replace(tzinfo=None))
            if student not in times and times_csv:
                report.append(f"{student}: not in {times_csv.name}; time of the download used")
            safe_files.write_new(target / "timestamp.txt", when.encode())
            stamps[student] = when
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return stamps, report


def set_duedate(course: Path, assignment: str, duedate: str) -> None:
    """Record the due date (e.g. "2026-05-01 23:59:00 UTC") of an assignment."""
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    try:
        when = parse_utc(duedate)
    except ValueError:
        raise ValueError(f"--duedate: {duedate!r} is not a date (e.g. 2026-05-01 23:59 UTC)")
    if not assignment_in_gradebook(course, assignment):
        record_in_gradebook(course, assignment, echo=False)
    with Gradebook(gradebook_url(course)) as gb:
        gb.update_or_create_assignment(assignment, duedate=when)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", type=Path, default=COURSE,
                        help="the course root (default: the folder of this script)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    grade = commands.add_parser("autograde", help="grade the submissions (sandboxed, in "
                                "parallel), then write the report")
    grade.add_argument("assignments", nargs="*", help="assignments (default: all submitted)")
    grade.add_argument("--force", action="store_true",
                       help="grade again submissions already graded")
    grade.add_argument("--jobs", type=int, default=0,
                       help="submissions graded at once (default: the number of cores)")
    grade.add_argument("--batch", type=int, default=1,
                       help="submissions per nbgrader run (default 1)")
    grade.add_argument("--quiet", action="store_true", help="do not echo nbgrader's output")
    grade.add_argument("--strict", action="store_true",
                       help="exit with status 1 if a submission FAILED")

    report = commands.add_parser("report", help="only write the report from the gradebook")
    report.add_argument("assignments", nargs="*")
    report.add_argument("--strict", action="store_true")

    gather = commands.add_parser("collect", help="file the downloaded submissions of one "
                                 "assignment (archives unpacked safely, times from your side)")
    gather.add_argument("assignment")
    gather.add_argument("downloads", type=Path,
                        help="folder of <student_id>.zip files or <student_id>/ folders")
    gather.add_argument("--times", type=Path, metavar="CSV",
                        help="the LMS export's submission times (student_id, submitted_at)")

    due = commands.add_parser("duedate", help="record an assignment's due date")
    due.add_argument("assignment")
    due.add_argument("date", help='e.g. "2026-05-01 23:59 UTC"')

    commands.add_parser("canvas", help="write canvas_grades.csv from the gradebook")
    feedback = commands.add_parser("feedback", help="HTML feedback for the learners (one "
                                   "nbgrader run for every graded assignment)")
    feedback.add_argument("assignment", nargs="?", help="one assignment (default: all)")

    args = parser.parse_args(argv)
    course = args.course.resolve()
    if args.command == "canvas":
        print(f"written: {write_canvas_csv(course)}")
        return 0
    if args.command == "feedback":
        return generate_feedback(course, args.assignment)
    if args.command == "duedate":
        try:
            set_duedate(course, args.assignment, args.date)
        except ValueError as error:
            parser.error(str(error))
        print(f"due date of {args.assignment}: {args.date}")
        return 0
    if args.command == "collect":
        if not args.downloads.is_dir():
            parser.error(f"{args.downloads} is not a folder")
        stamps, lines = collect(course, args.assignment, args.downloads, args.times)
        for line in lines:
            print(line)
        print(f"filed {len(stamps)} submissions of {args.assignment} "
              f"({len(lines)} entries skipped or noted above)")
        return 0
    if args.command == "autograde":
        if args.jobs < 0:
            parser.error(f"--jobs must be 0 (all cores) or more, not {args.jobs}")
        if args.batch < 1:
            parser.error(f"--batch must be 1 or more, not {args.batch}")
        names = args.assignments or assignments_with_submissions(course)
        try:
            autograde_class(course, names, jobs=args.jobs, force=args.force,
                            echo=not args.quiet, progress=True, batch=args.batch)
        except sandbox.SandboxUnavailable as error:
            print(f"make autograde: no sandbox: {error}", file=sys.stderr)
            return 3
    rows = build_report(course, args.assignments or None)
    csv_path, txt_path = write_report(course, rows)
    print(txt_path.read_text(encoding="utf-8"))
    print(f"written: {csv_path} and {txt_path}")
    if args.strict and any(r["status"] == "FAILED" for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
