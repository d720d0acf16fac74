"""The backend switch holds per thread and per asyncio task; SNNLEARN_BACKEND is checked
at first use, with a clear message, never at import."""

from __future__ import annotations

import asyncio
import os
import textwrap
import threading

import pytest
import torch

import snnlearn
from fresh_python import run_fresh
from snnlearn import LIF

needs_c = pytest.mark.skipif(not snnlearn.c_available(), reason="C extension not built")


def run_in_block(backend: str, barrier: threading.Barrier, seen: dict) -> None:
    """Inside a use_backend block, wait until the other thread is inside its own block too,
    then call LIF a few times and record what this thread sees."""
    with snnlearn.use_backend(backend):
        barrier.wait(timeout=30)
        records = []
        for _ in range(20):
            LIF()(torch.ones(5, 3, dtype=torch.float64))
            records.append((snnlearn.get_backend(), snnlearn.last_path()))
        barrier.wait(timeout=30)  # both blocks stay open until both threads are done
    seen[backend] = records


@needs_c
def test_two_threads_with_different_backends_do_not_see_each_other():
    barrier, seen = threading.Barrier(2), {}
    threads = [threading.Thread(target=run_in_block, args=(name, barrier, seen))
               for name in ("c", "reference")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(seen["c"]) == {("c", "c")}
    assert set(seen["reference"]) == {("reference", "reference")}
    assert snnlearn.get_backend() == "auto"  # the main thread's choice never changed


def test_a_new_thread_has_no_last_path_and_uses_the_process_default():
    LIF()(torch.ones(3, 2))
    assert snnlearn.last_path() is not None
    seen = {}

    def look():
        seen["last_path"] = snnlearn.last_path()
        seen["backend"] = snnlearn.get_backend()

    snnlearn.set_backend("reference")  # the process-wide default: other threads see it
    try:
        with snnlearn.use_backend("auto"):  # a block is this thread's only
            thread = threading.Thread(target=look)
            thread.start()
            thread.join()
            assert snnlearn.get_backend() == "auto"
    finally:
        snnlearn.set_backend("auto")
    assert seen == {"last_path": None, "backend": "reference"}


@needs_c
def test_asyncio_tasks_each_keep_their_backend_and_last_path():
    async def task(backend: str, other_started: asyncio.Event, started: asyncio.Event):
        records = []
        with snnlearn.use_backend(backend):
            started.set()
            await other_started.wait()  # both blocks open at once
            for _ in range(10):
                LIF()(torch.ones(4, 2))
                await asyncio.sleep(0)  # let the other task run between call and check
                records.append((snnlearn.get_backend(), snnlearn.last_path()))
        return records

    async def main():
        a, b = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(task("c", b, a), task("reference", a, b))

    c_records, reference_records = asyncio.run(main())
    assert set(c_records) == {("c", "c")}
    assert set(reference_records) == {("reference", "reference")}
    assert snnlearn.get_backend() == "auto"


def test_use_backend_restores_on_error_and_nests():
    with snnlearn.use_backend("reference"):
        with pytest.raises(ZeroDivisionError):
            with snnlearn.use_backend("auto"):
                assert snnlearn.get_backend() == "auto"
                1 / 0
        assert snnlearn.get_backend() == "reference"
    assert snnlearn.get_backend() == "auto"


# ---- SNNLEARN_BACKEND, checked at first use ---------------------------------------------

BLOCK_EXTENSION = """
import sys

class BlockExtension:  # as if snnlearn._compiled._lif had never been built
    def find_spec(self, name, path=None, target=None):
        if name == "snnlearn._compiled._lif":
            raise ImportError("snnlearn._compiled._lif blocked by the test")
        return None

sys.meta_path.insert(0, BlockExtension())
"""


FIRST_USE_OF_C = """
    import torch
    import snnlearn                      # importing works
    assert not snnlearn.c_available()
    print("imported")
    for attempt in range(2):             # every use fails the same way
        try:
            snnlearn.LIF()(torch.ones(3, 2))
        except snnlearn.backend.CUnavailableError as error:
            print("error:", error)
        else:
            print("no error")
"""
AUTO_WITHOUT_C = """
    import torch, snnlearn
    z, _ = snnlearn.LIF()(torch.ones(3, 2))
    print(snnlearn.last_path(), snnlearn.c_available())
"""
MISSPELT = """
    import torch, snnlearn
    try:
        snnlearn.LIF()(torch.ones(3, 2))
    except ValueError as error:
        print(error)
"""
SCRIPTS = {"c": (FIRST_USE_OF_C, "c"), "auto": (AUTO_WITHOUT_C, None), "fast": (MISSPELT, "fast")}


@pytest.fixture(scope="module")
def without_extension() -> dict:
    """Each script run in a fresh interpreter where snnlearn._compiled._lif cannot be imported, with
    SNNLEARN_BACKEND set as given (all at once, forked from one interpreter that imported
    torch: tests/fresh_python.py)."""
    env = {k: v for k, v in os.environ.items() if k != "SNNLEARN_BACKEND"}
    scripts = {name: (BLOCK_EXTENSION + textwrap.dedent(code),
                      {} if backend is None else {"SNNLEARN_BACKEND": backend})
               for name, (code, backend) in SCRIPTS.items()}
    return run_fresh(scripts, env=env, timeout=180)


def test_backend_c_without_the_extension_fails_at_first_use_with_a_clear_message(without_extension):
    result = without_extension["c"]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "imported"
    assert len(lines) == 3 and all(line.startswith("error:") for line in lines[1:]), lines
    message = lines[1]
    for words in ("SNNLEARN_BACKEND", "not built", "snnlearn._compiled._lif blocked by the test",
                  "pip install -e ."):
        assert words in message, message


def test_without_the_extension_auto_runs_the_reference(without_extension):
    result = without_extension["auto"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["reference", "False"]


def test_a_misspelt_backend_variable_fails_at_first_use_naming_it(without_extension):
    result = without_extension["fast"]
    assert result.returncode == 0, result.stderr
    assert "SNNLEARN_BACKEND must be one of" in result.stdout and "'fast'" in result.stdout


def test_asking_for_c_where_it_cannot_run_raises_one_exception_type():
    """CUnavailableError wherever "c" cannot run (here: a dtype the kernels do not take,
    for each neuron kind); it is a RuntimeError and a ValueError, as it was before."""
    from snnlearn.backend import CUnavailableError

    assert issubclass(CUnavailableError, RuntimeError) and issubclass(CUnavailableError, ValueError)
    x = torch.ones(4, 2, 3, dtype=torch.float16)
    layers = [snnlearn.LIF(), snnlearn.LIFCell(), snnlearn.LI(),
              snnlearn.LIFRecurrent(3, 5).half()]
    for layer in layers:
        with snnlearn.use_backend("c"), pytest.raises(CUnavailableError, match="float16"):
            layer(x)
