"""nbgrader configuration of the snnlearn course (the course root is this folder).

Run nbgrader from this folder (``cd exercises && nbgrader ...``) or through the Makefile's
instructor targets (``make assignments``, ``make autograde``, ...); see
book/instructor_guide.md.

Two environment variables tune the execution limits (e.g. for tests or slow machines):

``SNNLEARN_CELL_TIMEOUT``
    seconds one cell may run while autograding (default 60). An infinite loop is
    interrupted after that long; the cell gets an error and 0 points, the rest runs on.
``SNNLEARN_LONG_CELL_TIMEOUT``
    the same for the set-up cells (imports, data) and the cells that train a network
    (``LONG_CELLS`` below; default 240).
``SNNLEARN_INTERRUPT_GRACE``
    seconds a kernel has to stop after the interrupt that follows a timeout (default 10);
    a kernel that ignores it fails the submission, which the grading report lists as FAILED.
"""

import os
import time
from queue import Empty

from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from nbgrader.preprocessors.execute import Execute, UnresponsiveKernelError
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from traitlets import List

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

HERE = os.path.dirname(os.path.abspath(__file__))

# --- where things are --------------------------------------------------------------------
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "snnlearn"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
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


class SnnlearnExecute(Execute):
    """nbgrader's Execute, but a kernel that ignores the timeout's interrupt fails the
    submission (nbgrader reports it and goes on with the next one) instead of making
    every later cell wait for its own timeout."""

    async def _async_handle_timeout(self, timeout, cell=None):
        reply = await super()._async_handle_timeout(timeout, cell)  # interrupts the kernel
        deadline = time.monotonic() + INTERRUPT_GRACE
        while time.monotonic() < deadline:
            try:
                msg = await self.kc.shell_channel.get_msg(
                    timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                break
            except Exception:  # the channel is gone: let nbclient find the dead kernel
                return reply
            if msg.get("msg_type") == "execute_reply":
                return reply  # the interrupted cell has stopped: go on with the next one
        grade_id = (cell or {}).get("metadata", {}).get("nbgrader", {}).get("grade_id")
        raise UnresponsiveKernelError(
            f"kernel did not stop within {INTERRUPT_GRACE} s of the interrupt sent after "
            f"a {timeout} s timeout (cell {grade_id or '?'})")


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

# --- generate_feedback -------------------------------------------------------------------
# The autograded notebooks hold the full test cells; learners see them without the hidden
# parts.


class FeedbackClearHiddenTests(ClearHiddenTests):
    """ClearHiddenTests that also takes the HTML exporter's display setting (no warning)."""

    display_data_priority = List(GetGrades.display_data_priority.default_value).tag(config=True)


c.GenerateFeedback.preprocessors = [GetGrades, FeedbackClearHiddenTests, CSSHTMLHeaderPreprocessor]

# --- zip_collect (make collect) ------------------------------------------------------------
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
