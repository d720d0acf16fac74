"""Autograde the submissions with nbgrader and report on every one of them.

``make autograde`` runs ``python exercises/grading_report.py --autograde``: for each
assignment with submissions it runs ``nbgrader autograde <assignment>`` in the course root
(its output is kept in ``nbgrader_autograde_<assignment>.log``), then writes

- ``grading_report.csv``: one row per student and assignment, with the columns
  ``assignment, student_id, status, score, max_score, notes``;
- ``grading_report.txt``: the same as a table, failed submissions first.

``status`` is

``GRADED``
    nbgrader ran the notebook; ``score`` is what the gradebook holds (a real score, 0
    included).
``FAILED``
    nbgrader could not grade it (the file is not a notebook, the kernel died or did not stop
    after a timeout, ...): ``notes`` says why. nbgrader's own ``export`` lists such a
    submission with 0 points; look at it by hand, fix or ask for a new file, and run
    ``make autograde`` again (failed submissions are retried, graded ones are kept).
``NOT SUBMITTED``
    the student is in the gradebook but has no submission for this assignment.

``notes`` also flags read-only cells (tests, set-up) that a student changed or deleted
(nbgrader restores them from source/ before grading, so the score is fair, but you may want
to know), cells stopped by the time limit, and notebooks missing from a submission.

Without ``--autograde`` the script only writes the report from what is already there.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

COURSE = Path(__file__).resolve().parent
COLUMNS = ["assignment", "student_id", "status", "score", "max_score", "notes"]


# --- running nbgrader ----------------------------------------------------------------------

def nbgrader_env() -> Dict[str, str]:
    """nbgrader calls helpers (alembic) by name: put this Python's bin/ first on PATH."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def log_path(course: Path, assignment: str) -> Path:
    return course / f"nbgrader_autograde_{assignment}.log"


def autograde(course: Path, assignment: str, extra: Iterable[str] = (),
              echo: bool = True) -> int:
    """``nbgrader autograde ASSIGNMENT``; its output goes to the log (and the terminal)."""
    command = [str(Path(sys.executable).parent / "nbgrader"), "autograde", assignment, *extra]
    with open(log_path(course, assignment), "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, cwd=course, env=nbgrader_env(), text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            if echo:
                sys.stdout.write(line)
        return process.wait()


def assignment_in_gradebook(course: Path, assignment: str) -> bool:
    from nbgrader.api import Gradebook, MissingEntry

    database = course / "gradebook.db"
    if not database.exists():
        return False
    with Gradebook("sqlite:///" + str(database)) as gb:
        try:
            gb.find_assignment(assignment)
        except MissingEntry:
            return False
    return True


def record_in_gradebook(course: Path, assignment: str, echo: bool = True) -> int:
    """Record an assignment (its graded cells and points) in the gradebook.

    ``nbgrader autograde`` needs the assignment in the gradebook, which only
    ``generate_assignment`` puts there, and the gradebook is not committed: on a fresh clone
    it is empty. Run ``generate_assignment`` into a scratch folder, so that the committed
    ``release/`` notebooks stay as they are.
    """
    scratch = ".gradebook_release"
    command = [str(Path(sys.executable).parent / "nbgrader"), "generate_assignment", assignment,
               "--force", f"--CourseDirectory.release_directory={scratch}"]
    result = subprocess.run(command, cwd=course, env=nbgrader_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    shutil.rmtree(course / scratch, ignore_errors=True)
    if echo or result.returncode != 0:
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


def _load_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
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


def gradebook_scores(course: Path, db_url: Optional[str] = None):
    """({(student, assignment): (score, max_score)}, [student ids], {assignment: max})."""
    from nbgrader.api import Gradebook, MissingEntry

    db = db_url or "sqlite:///" + str(course / "gradebook.db")
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
                scores[(student, assignment.name)] = (float(submission.score),
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
            row = {"assignment": assignment, "student_id": student, "score": "",
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
            for notebook in released:
                theirs = folder / notebook.name
                if not theirs.exists():
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
        line = f"{row['student_id']:<{width}}  {row['status']:<13}  {score:>9}"
        if row["notes"]:
            line += f"  {row['notes']}"
        lines.append(line.rstrip())
    txt_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, txt_path


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignments", nargs="*", help="assignments (default: all submitted)")
    parser.add_argument("--autograde", action="store_true",
                        help="run nbgrader autograde for each assignment first")
    parser.add_argument("--force", action="store_true",
                        help="with --autograde: grade again submissions already graded")
    parser.add_argument("--course", type=Path, default=COURSE,
                        help="the course root (default: the folder of this script)")
    parser.add_argument("--quiet", action="store_true", help="do not echo nbgrader's output")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 if a submission FAILED")
    args = parser.parse_args(argv)
    course = args.course.resolve()
    names = args.assignments or assignments_with_submissions(course)
    if args.autograde:
        for assignment in names:
            if not any((course / "submitted").glob(f"*/{assignment}")):
                print(f"no submissions for {assignment}")
                continue
            if not assignment_in_gradebook(course, assignment):
                print(f"recording {assignment} in the gradebook (nbgrader generate_assignment)")
                if record_in_gradebook(course, assignment, echo=not args.quiet) != 0:
                    print(f"could not record {assignment} in the gradebook: see above")
            rc = autograde(course, assignment, ["--force"] if args.force else [],
                           echo=not args.quiet)
            if rc != 0:
                print(f"nbgrader autograde {assignment} exited with status {rc}: "
                      "some submissions failed (see the report)")
    rows = build_report(course, args.assignments or None)
    csv_path, txt_path = write_report(course, rows)
    print(txt_path.read_text(encoding="utf-8"))
    print(f"written: {csv_path} and {txt_path}")
    if args.strict and any(r["status"] == "FAILED" for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
