"""What grading passes around, typed: one kernel's run (what the sandbox recorded), one
submission's result (what a worker hands the parent to merge), and the record kept per
submission for the report (grading.py).

>>> run = KernelRun.from_json('{"where": "/x/autograded/ada/a1", "seconds": 2.5}')
>>> run.belongs_to("ada", "a1"), run.seconds, run.budget
(True, 2.5, None)
>>> KernelRun.from_json('[1, 2]') is None
True
>>> r = SubmissionResult("a1", "ada", "/tmp/s", rc=0, seconds=2.5, budget=["x"])
>>> r.failed_budget, r["student"]
('x', 'ada')
"""

from __future__ import annotations

import dataclasses
import json
from typing import List, Optional


def _strings(value) -> List[str]:
    return [str(x)[:1000] for x in value] if isinstance(value, list) else []


@dataclasses.dataclass(frozen=True)
class KernelRun:
    """One line of the runs file a notebook's grading appends to (sandbox.record_run): the
    notebook's folder, how long it ran, entries of the submission skipped, a per-process
    limit its exit status names, a budget of its whole tree (cgroup) it ran into."""

    where: str
    seconds: float = 0.0
    skipped: List[str] = dataclasses.field(default_factory=list)
    limit: Optional[str] = None
    budget: Optional[str] = None

    @classmethod
    def from_json(cls, line: str) -> Optional["KernelRun"]:
        """The run a line says, or None for a line that is not one (never an exception)."""
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("where"), str):
            return None
        try:
            seconds = float(data.get("seconds") or 0.0)
        except (TypeError, ValueError):
            seconds = 0.0
        text = {k: str(data[k])[:1000] if data.get(k) else None for k in ("limit", "budget")}
        return cls(data["where"], seconds, _strings(data.get("skipped")), **text)

    def belongs_to(self, student: str, assignment: str) -> bool:
        return f"/autograded/{student}/{assignment}/" in self.where + "/"


@dataclasses.dataclass
class SubmissionResult:
    """One submission graded by a worker, as the parent merges it (grading.take_result).

    ``rc`` is nbgrader's exit status (-1: the batch timed out, -2: its run was discarded);
    ``budget`` the budgets of the whole process tree the kernel ran into (the submission
    FAILS: its grades are not merged); ``limits`` per-process limits its exit status
    names; ``skipped`` the entries of the submission that were not copied."""

    assignment: str
    student: str
    scratch: str
    rc: int = 0
    log: str = ""
    seconds: float = 0.0
    limits: List[str] = dataclasses.field(default_factory=list)
    budget: List[str] = dataclasses.field(default_factory=list)
    skipped: List[str] = dataclasses.field(default_factory=list)
    merged: bool = False

    @property
    def failed_budget(self) -> Optional[str]:
        """Why the submission FAILS on a budget of its tree, or None."""
        return "; ".join(dict.fromkeys(self.budget)) or None

    def __getitem__(self, name: str):
        """Field by name, as callers that held the former dict read it (``r["merged"]``)."""
        if name not in {f.name for f in dataclasses.fields(self)}:
            raise KeyError(name)
        return getattr(self, name)

    def record(self) -> "SubmissionRecord":
        return SubmissionRecord(self.seconds, list(self.limits), list(self.budget), self.rc,
                                self.merged, list(self.skipped))


@dataclasses.dataclass(frozen=True)
class SubmissionRecord:
    """What the report reads of a submission's last grading (grading_runs/<a>/<s>.json)."""

    seconds: Optional[float] = None
    limits: List[str] = dataclasses.field(default_factory=list)
    budget: List[str] = dataclasses.field(default_factory=list)
    rc: Optional[int] = None
    merged: bool = False
    skipped: List[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_data(cls, data) -> Optional["SubmissionRecord"]:
        """The record JSON data holds, or None (anything else: never an exception)."""
        if not isinstance(data, dict):
            return None
        try:
            seconds = float(data["seconds"]) if data.get("seconds") is not None else None
        except (TypeError, ValueError):
            seconds = None
        rc = data.get("rc") if isinstance(data.get("rc"), int) else None
        return cls(seconds, _strings(data.get("limits")), _strings(data.get("budget")), rc,
                   bool(data.get("merged")), _strings(data.get("skipped")))
