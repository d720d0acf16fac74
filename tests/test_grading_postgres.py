"""`make autograde GRADEBOOK_URL=postgresql://...`: the gradebook in a real PostgreSQL server.

The test starts its own server (Debian's postgresql: initdb/pg_ctl as the postgres user,
listening only on a Unix socket in a temporary folder), grades two submissions into it with
two parallel workers, and reads the scores back. Without PostgreSQL (or psycopg2) it skips
with one line; with SNNLEARN_REQUIRE_POSTGRES=1 (set by .ci/run) that is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest

from grading_helpers import build_sources, grading, reference_submission
from paths import EXERCISES

PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1:] if Path(
    "/usr/lib/postgresql").is_dir() else []


def missing_postgres() -> str:
    if not PG_BIN or not (PG_BIN[0] / "initdb").exists():
        return "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    if importlib.util.find_spec("psycopg2") is None:
        return "psycopg2 is not installed (pip install -r requirements-dev.txt)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "no postgres user to run the server as"
    return ""


def skip_or_fail(reason: str) -> None:
    if os.environ.get("SNNLEARN_REQUIRE_POSTGRES"):
        pytest.fail(f"SNNLEARN_REQUIRE_POSTGRES is set but {reason}")
    pytest.skip(f"PostgreSQL gradebook test skipped: {reason}")


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    reason = missing_postgres()
    if reason:
        skip_or_fail(reason)
    # Not under pytest's folder: the postgres user must be able to reach it.
    base = Path(tempfile.mkdtemp(prefix="snnlearn-pg-"))
    data, sockets = base / "data", base / "sockets"
    sockets.mkdir()
    as_postgres = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (base, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        as_postgres = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                       "--init-groups"]
    bin_ = PG_BIN[0]

    def run(*args):
        result = subprocess.run(as_postgres + [str(a) for a in args], capture_output=True,
                                text=True, cwd=base)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")
        return result

    run(bin_ / "initdb", "-D", data, "-A", "trust", "-U", "grader")
    run(bin_ / "pg_ctl", "-D", data, "-w", "-l", base / "log",
        "-o", f"-c listen_addresses='' -c unix_socket_directories='{sockets}' -k {sockets}",
        "start")
    try:
        run(bin_ / "createdb", "-h", sockets, "-U", "grader", "gradebook")
        yield f"postgresql+psycopg2://grader@/gradebook?host={sockets}"
    finally:
        try:
            run(bin_ / "pg_ctl", "-D", data, "-w", "-m", "immediate", "stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_autograde_into_a_postgresql_gradebook(postgres, tmp_path, monkeypatch):
    course = build_sources.scratch_copy(tmp_path / "course", EXERCISES)
    assignment = "pytorch_basics"
    release = reference_submission(course, assignment)
    untouched = nbformat.read(course / "release" / assignment / f"{assignment}.ipynb", 4)
    for student, nb in (("ada", release), ("bob", untouched)):
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")
    monkeypatch.setenv("GRADEBOOK_URL", postgres)
    monkeypatch.setenv("SNNLEARN_CELL_TIMEOUT", "30")
    results = grading.autograde_class(course, [assignment], jobs=2, echo=False, progress=False)
    assert all(r["merged"] for r in results.values()), results
    assert not (course / "gradebook.db").exists()  # nothing went to the SQLite file

    from nbgrader.api import Gradebook

    with Gradebook(postgres) as gb:
        scores = {s: gb.find_submission(assignment, s).score for s in ("ada", "bob")}
        maximum = gb.find_assignment(assignment).max_score
    assert scores == {"ada": maximum, "bob": 0.0} and maximum > 0
    rows = {r["student_id"]: r for r in grading.build_report(course, [assignment])}
    assert rows["ada"]["status"] == "GRADED" and float(rows["ada"]["score"]) == maximum
