"""Work made once per test run and shared by pytest-xdist's workers.

``make test`` runs two workers (tests/conftest.py). A piece of session work that tests of
several modules read but never change (the generated course) is made by the first worker
that needs it, in a folder of the run's base temporary directory, under an exclusive lock;
the other worker waits for the lock and finds it made. Without xdist it is made in the
session's own temporary directory, as any session fixture's folder.

>>> import tempfile
>>> class Factory:  # what pytest's tmp_path_factory gives here: a base and mktemp
...     def __init__(self, base): self.base = base
...     def getbasetemp(self): return self.base
...     def mktemp(self, name):
...         path = self.base / name; path.mkdir(); return path
>>> calls = []
>>> with tempfile.TemporaryDirectory() as run:
...     workers = [Factory(Path(run) / worker) for worker in ("gw0", "gw1")]
...     for factory in workers:
...         factory.base.mkdir()
...     folders = [made_once(f, "course", calls.append, worker="gw") for f in workers]
...     folders[0] == folders[1], len(calls)
(True, 1)
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import Callable, Optional

DONE = ".made"


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None],
              worker: Optional[str] = None) -> Path:
    """A folder in which ``make(folder)`` has run once in this test run: by this process,
    or, under xdist (``worker``: ``PYTEST_XDIST_WORKER`` by default), by whichever worker
    asked first. The folder is empty when ``make`` is called; a ``make`` that raised
    leaves it unmarked, so the next caller tries again (and fails on its own)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER") if worker is None else worker
    if not worker:
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent  # the run's base: one per `pytest -n`
    folder = shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (folder / DONE).exists():
                if folder.exists():  # left by a make that raised
                    shutil.rmtree(folder)
                folder.mkdir()
                make(folder)
                (folder / DONE).touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder
