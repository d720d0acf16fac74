"""Late submissions: timestamps come from the instructor's side (never the archive), nbgrader's
late penalty applies (SNNLEARN_LATE_PENALTY_PER_DAY points per started day), and the report,
the export and the Canvas CSV show the score after the penalty.

The students ``ontime`` (a folder downloaded before the due date, not in the LMS export) and
``late`` (a zip whose entry claims 2020, handed in 2 days and 1 hour late by the LMS export:
3 started days) are part of the session's one graded class (tests/grading_helpers.py,
``graded_class``), on pytorch_basics, due 2026-03-01 12:00 UTC, 1.5 points per day.
"""

from __future__ import annotations

import csv

import pytest

from grading_helpers import LATE_ASSIGNMENT, LATE_PENALTY, graded_class, grading

PENALTY = 3 * float(LATE_PENALTY)


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    return graded_class(tmp_path_factory)


@pytest.mark.slow
def test_submission_times_come_from_the_instructors_side(course):
    stamps, report = course.collected[LATE_ASSIGNMENT]
    assert stamps["ontime"] == "2026-03-01 09:00:00.000000 UTC"
    assert stamps["late"] == "2026-03-03 13:00:00.000000 UTC"
    assert report == ["ontime: not in pytorch_basics_times.csv; time of the download used"]


@pytest.mark.slow
def test_a_late_submission_loses_the_configured_points(course):
    rows = {s: r for (s, a), r in course.report.items() if a == LATE_ASSIGNMENT}
    maximum = float(rows["ontime"]["max_score"])
    assert float(rows["ontime"]["score"]) == maximum > 0
    assert float(rows["late"]["score"]) == maximum - PENALTY, rows["late"]
    assert float(rows["reference"]["score"]) == maximum  # on time by the LMS export


@pytest.mark.slow
def test_export_and_canvas_show_the_score_after_the_penalty(course):
    with open(course.root / "grades.csv", newline="") as handle:
        exported = {r["student_id"]: r for r in csv.DictReader(handle)
                    if r["assignment"] == LATE_ASSIGNMENT}
    maximum = float(exported["ontime"]["max_score"])
    assert float(exported["late"]["late_submission_penalty"]) == PENALTY
    assert float(exported["late"]["score"]) == maximum - PENALTY
    assert float(exported["ontime"]["late_submission_penalty"]) == 0.0
    with open(grading.write_canvas_csv(course.root), newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index(LATE_ASSIGNMENT)
    canvas = {r[2]: r for r in rows[2:]}
    assert float(canvas["late"][column]) == maximum - PENALTY
    assert float(canvas["ontime"][column]) == maximum
