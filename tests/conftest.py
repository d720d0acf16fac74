"""Shared fixtures (the repository root, one run of each chapter and one book build per
test session) and the test tiers: a test is ``slow`` when it is marked so or when it uses
the built book (or the chapter runs); ``make test-fast`` runs ``-m "not slow"``.

Each chapter executes once per session (``chapter_runs``: its published cells, then its
exercise solutions, in one kernel; tests/chapter_runs.py); the executed site is built once
per session (``built_book``) from those runs, through the build's own execution cache, and
shared by every test that needs it; ``SNNLEARN_BOOK_HTML`` points them at a build made
before (e.g. by ``make book``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

import chapter_runs as chapter_runs_module
import tiers
from paths import ROOT, course_chapters

# OpenMP threads that finish a parallel region spin for a while before they sleep (libgomp's
# default). Two workers on two cores, and the chapter kernels and grading runs they start,
# each with PyTorch's threads: the spinning threads burn the CPU the other processes wait
# for. PASSIVE puts them to sleep at once (make test, same idle VM: pytest 628 and 654 s ->
# 521 s, user CPU 860 -> 646 s). Set here, before anything imports torch (its OpenMP runtime
# reads it once), and inherited by every process the tests start; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The Hypothesis profiles of the two tiers (tests/tiers.py): `make test` passes
# --hypothesis-profile=full, `make test-fast` --hypothesis-profile=fast.
tiers.register_profiles()

BIN = Path(sys.executable).parent

# Tests are marked slow one by one (@pytest.mark.slow), so that a file's pure checks stay in
# `make test-fast`; a test that uses the built book or the chapter runs is slow without a mark.
SLOW_FIXTURES = ("built_book", "chapter_runs")
# Doctests of the library that are slow, one by one (the doctest item's name: the module,
# or the module and the function, dotted): they run in `make test`, not in `make test-fast`.
SLOW_DOCTESTS = {
    "snnlearn.data.event_digits": "generates the whole data set (30 bins)",
    "snnlearn.data.event_digits.load_event_digits": "generates the whole data set (10 bins)",
}
# Where the session's shared work went ({what: text}), printed at the end of the run.
TIMINGS: dict = {}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def chapter_runs():
    """{page: chapter_runs.ChapterRun}: every chapter of the TOC executed once (published
    cells, then its exercise solutions, in one kernel), two kernels at a time."""
    started = time.perf_counter()
    runs = chapter_runs_module.run_chapters(course_chapters())
    TIMINGS["chapter runs"] = (
        f"{time.perf_counter() - started:.0f} s, {chapter_runs_module.PARALLEL} kernels at a "
        "time (published + solutions, s): "
        + ", ".join(f"{Path(p).name} {r.seconds:.0f}+{r.solutions_seconds:.0f}"
                    for p, r in runs.items()))
    return runs


@pytest.fixture(scope="session")
def built_book(tmp_path_factory, request) -> Path:
    """The built site (``.../_build/html``), built once per session into a scratch folder,
    with the book's flags (``-W -n --keep-going``, execution on). The chapters' executed
    notebooks come from ``chapter_runs`` through the build's jupyter-cache, so that no
    chapter runs twice in a session; one the build had to execute again (its cache key did
    not match) fails the build test.

    Set ``SNNLEARN_BOOK_HTML`` to an existing ``_build/html`` to reuse a build (e.g. the
    one ``make book`` just made) instead of building again.
    """
    prebuilt = os.environ.get("SNNLEARN_BOOK_HTML")
    if prebuilt:
        html = Path(prebuilt)
        if not (html / "index.html").is_file():
            pytest.fail(f"SNNLEARN_BOOK_HTML={prebuilt} has no index.html")
        return html
    runs = request.getfixturevalue("chapter_runs")
    out = tmp_path_factory.mktemp("book")
    cache = out / "_build" / ".jupyter_cache"
    seeded = chapter_runs_module.seed_cache(cache, runs)
    started = time.perf_counter()
    command = [str(BIN / "jupyter-book"), "build", str(ROOT), "--path-output", str(out),
               "-W", "-n", "--keep-going"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    log = out / "build.log"
    log.write_text(result.stdout + "\n" + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-60:])
        failed = {p: r.error for p, r in runs.items() if r.error}
        pytest.fail(f"the book build failed (rc={result.returncode}); log {log}:\n{tail}"
                    + (f"\nchapters that failed in the test kernel: {failed}" if failed else ""))
    again = sorted(set(chapter_runs_module.cache_keys(cache)) - set(seeded.values()))
    if again:
        pytest.fail(f"the build executed {len(again)} chapter(s) again instead of taking them "
                    f"from the session's runs (cache keys {again}); log {log}")
    TIMINGS["book build"] = (f"{time.perf_counter() - started:.0f} s ({len(seeded)} chapters "
                             "taken from the session's runs)")
    return out / "_build" / "html"


# `make test` runs two pytest-xdist workers (`-n 2 --dist loadscope`). The tests that share
# an expensive piece of session work run in one worker, so that it is made once: the
# chapter runs and the book build ("book"), the graded class and the mistakes catalog
# ("graded class": tests/grading_helpers.py). The scheduler below gives each test module to
# one worker whole (its module-scoped fixtures are made once), the modules of one shared
# piece of work to the same worker, and starts with those pieces, the longest units. The
# controller does not collect, so the pieces are named by module here; every collection
# checks them against what the tests use (``shared_work``): a module cannot be left out.
# (The generated course, which more modules read, is made once per run for both workers:
# tests/run_once.py.)
SHARED_WORK_MODULES = {
    "book": ("test_book.py", "test_book_exercises.py", "test_chapter_runs.py",
             "test_live_notebooks.py", "test_site_browser.py", "test_site_links.py"),
    "graded class": ("test_exercises.py", "test_grading_late.py"),
}
GROUP_OF_MODULE = {f"tests/{module}": group
                   for group, modules in SHARED_WORK_MODULES.items() for module in modules}
GRADED_CLASS_WORK = ("graded_class", "mistakes_catalog")


def shared_work(item) -> Optional[str]:
    """The shared session work a test uses: "book" (the chapter runs or the built book),
    "graded class" (tests/grading_helpers.py's graded class or mistakes catalog, through
    its module), or None."""
    if set(SLOW_FIXTURES) & set(getattr(item, "fixturenames", ())):
        return "book"
    module = getattr(item, "module", None)
    # (not importing grading_helpers here: a run of a few test files may lack exercises/)
    if any(getattr(getattr(module, name, None), "__module__", None) == "grading_helpers"
           for name in GRADED_CLASS_WORK):
        return "graded class"
    return None


def work_unit(nodeid: str) -> str:
    """The unit a worker takes whole: the shared work of its module, else the module.

    >>> work_unit("tests/test_site_links.py::test_no_broken_internal_links_or_anchors")
    'book'
    >>> work_unit("tests/test_init.py::test_a_naive_initialisation_misses_the_target")
    'tests/test_init.py'
    """
    module = nodeid.split("::", 1)[0]
    return GROUP_OF_MODULE.get(module, module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedWorkScheduling(LoadScopeScheduling):
        """xdist's ``loadscope`` with :func:`work_unit` as the unit: the shared pieces of
        work first, then the other units, most tests first."""

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            for unit in reversed(SHARED_WORK_MODULES):
                if unit in self.workqueue:
                    self.workqueue.move_to_end(unit, last=False)
            super()._assign_work_unit(node)

    return SharedWorkScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    doctests = set()
    for item in items:
        if set(SLOW_FIXTURES) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        work = shared_work(item)
        if work is not None and work_unit(item.nodeid) != work:
            raise pytest.UsageError(
                f"{item.nodeid} uses the session's {work!r} work: add its module to "
                f"SHARED_WORK_MODULES[{work!r}] in tests/conftest.py (one worker makes it)")
        if isinstance(item, pytest.DoctestItem):
            doctests.add(item.name)
            if item.name in SLOW_DOCTESTS:
                item.add_marker(pytest.mark.slow)
    stale = set(SLOW_DOCTESTS) - doctests
    if stale and sorted(config.args) == sorted(config.getini("testpaths")):  # a whole run
        raise pytest.UsageError(f"SLOW_DOCTESTS names doctests that do not exist: {sorted(stale)}")


def pytest_report_header(config):
    return f"snnlearn repo: {ROOT}"


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)  # an xdist worker
    if workeroutput is not None:
        workeroutput["timings"] = dict(TIMINGS)


@pytest.hookimpl(optionalhook=True)  # xdist's hooks: the suite also runs without xdist
def pytest_testnodedown(node, error):  # the controller hears a worker's timings
    TIMINGS.update(getattr(node, "workeroutput", {}).get("timings", {}))


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.section("session fixtures")
        for what, text in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {text}")
