"""Late submissions: timestamps come from the instructor's side (never the archive), nbgrader's late penalty
applies (SNNLEARN_LATE_PENALTY_PER_DAY points per started day), and the report, the export
and the Canvas CSV show the score after the penalty."""

from __future__ import annotations

import csv
import datetime
import importlib.util
import os
import zipfile
from pathlib import Path

import nbformat
import pytest

# The slow tier (``make test-fast`` leaves it out): it runs nbgrader.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
ASSIGNMENT = "pytorch_basics"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_late_submission_loses_the_configured_points(tmp_path, monkeypatch):
    build_sources = load(EXERCISES / "build_sources.py", "_late_build_sources")
    grading = load(EXERCISES / "grading.py", "_late_grading")
    harness = load(ROOT / "tests" / "test_exercises.py", "_late_harness")
    course = build_sources.scratch_copy(tmp_path / "course", EXERCISES)
    text = nbformat.writes(harness.reference_submission(course, ASSIGNMENT))

    # One student on time (a folder), one 2 days and 1 hour late (a zip whose entry claims
    # 2020: the student sets that date, so it counts for nothing): 3 started days late.
    due = datetime.datetime(2026, 3, 1, 12, 0, 0)
    downloads = tmp_path / "downloads"
    (downloads / "ontime").mkdir(parents=True)
    (downloads / "ontime" / f"{ASSIGNMENT}.ipynb").write_text(text, encoding="utf-8")
    late = due + datetime.timedelta(days=2, hours=1)
    with zipfile.ZipFile(downloads / "late.zip", "w") as zipped:
        zipped.writestr(zipfile.ZipInfo(f"work/{ASSIGNMENT}.ipynb", (2020, 1, 1, 0, 0, 0)), text)
    # The instructor's side: the LMS export's times; without one, when the download was made.
    (tmp_path / "times.csv").write_text(
        "student_id,submitted_at\nlate,2026-03-03 13:00:00 UTC\n", encoding="utf-8")
    early = (due - datetime.timedelta(hours=3)).replace(tzinfo=datetime.timezone.utc)
    os.utime(downloads / "ontime", (early.timestamp(), early.timestamp()))
    stamps, report = grading.collect(course, ASSIGNMENT, downloads, tmp_path / "times.csv")
    assert stamps == {"ontime": "2026-03-01 09:00:00.000000 UTC",
                      "late": "2026-03-03 13:00:00.000000 UTC"}
    assert report == ["ontime: not in times.csv; time of the download used"]

    assert grading.main(["--course", str(course), "duedate", ASSIGNMENT,
                         "2026-03-01 12:00:00 UTC"]) == 0
    monkeypatch.setenv("SNNLEARN_LATE_PENALTY_PER_DAY", "1.5")
    monkeypatch.setenv("SNNLEARN_CELL_TIMEOUT", "30")
    results = grading.autograde_class(course, [ASSIGNMENT], jobs=2, echo=False, progress=False)
    assert all(r["merged"] for r in results.values()), results

    rows = {r["student_id"]: r for r in grading.build_report(course, [ASSIGNMENT])}
    maximum = float(rows["ontime"]["max_score"])
    assert float(rows["ontime"]["score"]) == maximum > 0
    assert float(rows["late"]["score"]) == maximum - 3 * 1.5, rows["late"]
    build_sources.nbgrader(course, "export", "--to", "grades.csv")
    with open(course / "grades.csv", newline="") as handle:
        exported = {r["student_id"]: r for r in csv.DictReader(handle)}
    assert float(exported["late"]["late_submission_penalty"]) == 4.5
    assert float(exported["late"]["score"]) == maximum - 4.5
    with open(grading.write_canvas_csv(course), newline="") as handle:
        canvas = {r[2]: r for r in list(csv.reader(handle))[2:]}
    assert float(canvas["late"][5]) == maximum - 4.5 and float(canvas["ontime"][5]) == maximum
