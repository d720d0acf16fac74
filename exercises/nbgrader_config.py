"""nbgrader configuration of the snnlearn course (the course root is this folder).

Run nbgrader from this folder (``cd exercises && nbgrader ...``) or through the Makefile's
instructor targets (``make assignments``, ``make autograde``, ...); see
book/instructor_guide.md.

Environment variables tune the per-cell time limits (e.g. for tests or slow machines):

``SNNLEARN_CELL_TIMEOUT``
    seconds one cell may run while autograding (default 60). An infinite loop is
    interrupted after that long; the cell gets an error and 0 points, the rest runs on.
``SNNLEARN_LONG_CELL_TIMEOUT``
    the same for the set-up cells (imports, data) and the cells that train a network
    (``LONG_CELLS`` below; default 240).
``SNNLEARN_INTERRUPT_GRACE``
    seconds a kernel has to stop after the interrupt that follows a timeout (default 10);
    a kernel that ignores it fails the submission, which the grading report lists as FAILED.
``GRADEBOOK_URL``
    the gradebook's SQLAlchemy URL (default: the SQLite file gradebook.db here).
``SNNLEARN_LATE_PENALTY_PER_DAY``
    points taken off a late submission per started day after the due date (default 0).

The kernel runs in a bubblewrap sandbox with resource limits; split test cells are judged
outside it (verdict.py), the others checked for tampering: see sandbox.py (``SNNLEARN_SANDBOX=none`` grades without a sandbox,
for trusted runs only). ``make autograde`` grades each submission in its own scratch copy of
the course (grading.py).
"""

import os
import sys

from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import List

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sandbox  # noqa: E402  (the sandboxed kernel and the tamper-proof test cells)

# --- where things are --------------------------------------------------------------------
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "snnlearn"
# GRADEBOOK_URL (any SQLAlchemy URL, e.g. postgresql://...) replaces the SQLite file.
c.CourseDirectory.db_url = (os.environ.get("GRADEBOOK_URL")
                            or "sqlite:///" + os.path.join(HERE, "gradebook.db"))
# The Jupytext sources (source/<assignment>/<assignment>.md) carry the solutions and the
# hidden tests: never copy them into release/ (nor into autograded/ or feedback/).
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",  # nbgrader's defaults
    "*.md",
]

# --- generate_assignment -----------------------------------------------------------------
c.GenerateAssignment.create_assignment = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.enforce_metadata = True
c.ClearHiddenTests.enforce_metadata = True

# --- autograde ---------------------------------------------------------------------------
c.Autograde.create_student = True

# --- the budget of one submission ---------------------------------------------------------
# Memory, CPU time, processes, file size, output per cell, one ZeroMQ message, /dev/shm,
# scratch disk and the whole notebook's wall clock: traitlets of limits.GradingLimits, its
# table the one place their defaults are written (``python exercises/limits.py`` prints it).
# Set one here, e.g. ``c.GradingLimits.memory_mb = 2048``; one left unset takes its
# environment variable (SNNLEARN_MEMORY_LIMIT_MB, ...) and else the default. A kernel whose
# whole process tree runs into its budget (cgroup: memory, processes) FAILS with the reason.

CELL_TIMEOUT = int(os.environ.get("SNNLEARN_CELL_TIMEOUT", "60"))
LONG_CELL_TIMEOUT = int(os.environ.get("SNNLEARN_LONG_CELL_TIMEOUT", "240"))
# Cells (by grade_id) that get LONG_CELL_TIMEOUT: set-up cells (importing torch can take a
# while on a busy machine) and the cells that train a network.
LONG_CELLS = {"setup", "train_run", "train_hidden"}
# After a timeout the kernel is interrupted; if it has not stopped this many seconds later
# (it ignores SIGINT, is stuck in C code, ...) the submission is abandoned as "failed".
INTERRUPT_GRACE = int(os.environ.get("SNNLEARN_INTERRUPT_GRACE", "10"))


def cell_timeout(cell):
    """Per-cell execution limit (seconds): longer for the cells in LONG_CELLS."""
    grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return LONG_CELL_TIMEOUT if grade_id in LONG_CELLS else CELL_TIMEOUT


class SnnlearnExecute(sandbox.SnnlearnExecute):
    interrupt_grace = INTERRUPT_GRACE


c.Execute.timeout = CELL_TIMEOUT
c.Execute.timeout_func = cell_timeout
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 120
# Minimal tracebacks: a failing test shows "AssertionError: <message>", never the lines of
# the (hidden) test that raised it.
c.Execute.extra_arguments = [
    "--HistoryManager.hist_file=:memory:",
    "--InteractiveShell.xmode=Minimal",
]
c.Autograde.autograde_preprocessors = [
    SnnlearnExecute,  # in place of nbgrader's Execute
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# --- late submissions ---------------------------------------------------------------------
# A submission's time is its timestamp.txt, which make collect writes from the instructor's
# side (the LMS export's times, or when the download was written), never the student's;
# the due date is the assignment's in the gradebook (python exercises/grading.py duedate).
LATE_PENALTY_PER_DAY = float(os.environ.get("SNNLEARN_LATE_PENALTY_PER_DAY", "0"))


class PerDayLatePenalty(LateSubmissionPlugin):
    """LATE_PENALTY_PER_DAY points off per started day late (never below 0 points)."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        import math

        days = math.ceil(total_seconds_late / 86400.0)
        return min(score, LATE_PENALTY_PER_DAY * days) if days > 0 else 0.0


c.AssignLatePenalties.plugin_class = PerDayLatePenalty

# --- generate_feedback -------------------------------------------------------------------
# The autograded notebooks hold the full test cells; learners see them without the hidden
# parts.


class FeedbackClearHiddenTests(ClearHiddenTests):
    """ClearHiddenTests that also takes the HTML exporter's display setting (no warning)."""

    display_data_priority = List(GetGrades.display_data_priority.default_value).tag(config=True)


c.GenerateFeedback.preprocessors = [GetGrades, FeedbackClearHiddenTests, CSSHTMLHeaderPreprocessor]

# --- zip_collect ------------------------------------------------------------------------------
# make collect does not use nbgrader's zip_collect (its extractor follows links and stops at a
# bad member): grading.py collect files submissions safely. For nbgrader zip_collect by hand:
# Each archive or folder dropped in downloaded/<assignment>/archive/ is named after the
# student: <student_id>.zip holding <assignment>.ipynb (at any depth) or a folder
# <student_id>/<assignment>.ipynb. The notebook is filed as
# submitted/<student_id>/<assignment>/<assignment>.ipynb.
c.ZipCollectApp.collector_plugin = "nbgrader.plugins.FileNameCollectorPlugin"
c.FileNameCollectorPlugin.named_regexp = (
    r"^(?!.*\.ipynb_checkpoints).*/extracted/(?P<student_id>[^/]+)/"
    r"(?:[^/]+/)*(?P<file_id>[^/]+\.ipynb)$"
)
c.ZipCollectApp.strict = True
