"""Autograding speed: one class graded with JOBS=1 and with JOBS=2 (or --jobs), in one run.

Builds a scratch copy of the course, a class of ``--students`` submissions of one assignment
(the reference solution, the untouched student version and typical mistakes, in turn), and
grades it once per ``--jobs`` value, each time from an empty gradebook, sandboxed as
``make autograde`` does. Prints a table: wall time, wall seconds per submission, the median
time a submission's kernel ran (its notebook executing), speed-up over the first row, and
whether every submission got the same score as in the first row.

    python benchmarks/bench_autograde.py                      # 8 spiking_neurons submissions
    python benchmarks/bench_autograde.py --quick              # pytorch_basics, to see it work
    python benchmarks/bench_autograde.py --students 16 --jobs 1 2 4

Run it on a quiet machine: other processes on the cores make both rows slower and the
speed-up smaller. The speed-up is bounded by the cores (2 cores: at most 2x).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"


def class_of(course: Path, assignment: str, students: int, harness) -> dict:
    """{student_id: notebook}: reference, untouched, mistakes, in turn."""
    reference = harness.reference_submission(course, assignment)
    untouched = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", 4)
    variants = [reference, untouched]
    for spec in harness.load_mistakes(assignment).values():
        variants.append(harness.edit_cell(reference, spec["cell"], spec.get("edits"),
                                          spec.get("source")))
    return {f"student{i:03d}": variants[i % len(variants)] for i in range(students)}


def grade(base: Path, assignment: str, submissions: dict, jobs: int, build_sources, grading):
    course = build_sources.scratch_copy(base / f"jobs{jobs}", EXERCISES)
    for student, nb in submissions.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")
    # Record the assignment first (not timed: it is the same for every row).
    grading.record_in_gradebook(course, assignment, echo=False)
    started = time.perf_counter()
    results = grading.autograde_class(course, [assignment], jobs=jobs, echo=False,
                                      progress=True)
    wall = time.perf_counter() - started
    scores, _, _ = grading.gradebook_scores(course)
    per_submission = [r.seconds for r in results.values()]
    return wall, {s: scores.get((s, assignment)) for s in submissions}, per_submission


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="spiking_neurons")
    parser.add_argument("--students", type=int, default=8)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--quick", action="store_true",
                        help="pytorch_basics, 8 students: shows the script works")
    args = parser.parse_args(argv)
    if args.quick:
        args.assignment = "pytorch_basics"
    if args.students < 8:
        parser.error(f"--students must be at least 8, not {args.students}")
    if any(j < 1 for j in args.jobs):
        parser.error(f"--jobs values must be 1 or more, not {args.jobs}")
    sys.path.insert(0, str(ROOT / "tests"))
    import grading_helpers as harness  # the tests' helpers: one copy of the modules

    build_sources, grading = harness.build_sources, harness.grading
    with tempfile.TemporaryDirectory(prefix="snnlearn-bench-") as tmp:
        base = Path(tmp)
        submissions = class_of(EXERCISES, args.assignment, args.students, harness)
        rows = []
        for jobs in args.jobs:
            wall, scores, per = grade(base, args.assignment, submissions, jobs, build_sources,
                                      grading)
            rows.append((jobs, wall, scores, per))
            shutil.rmtree(base / f"jobs{jobs}", ignore_errors=True)
    first_wall, first_scores = rows[0][1], rows[0][2]
    print(f"\nautograde {args.students} submissions of {args.assignment} "
          f"({os.cpu_count()} cores)")
    print(f"{'JOBS':>4}  {'wall s':>7}  {'wall s/subm.':>12}  {'kernel s/subm.':>14}  "
          f"{'speed-up':>8}  same scores")
    for jobs, wall, scores, per in rows:
        print(f"{jobs:>4}  {wall:7.1f}  {wall / len(scores):12.2f}  "
              f"{statistics.median(per):14.1f}  {first_wall / wall:7.2f}x  {'yes' if scores == first_scores else 'NO'}")
    if any(r[2] != first_scores for r in rows):
        print("scores differ between runs:", [r[2] for r in rows], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
