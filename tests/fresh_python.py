"""Scripts that need a fresh interpreter (nothing of snnlearn imported yet, their own
environment variables, a crash that must not take pytest down), without paying for
``import torch`` once per script.

``run_fresh`` hands the scripts to ONE interpreter per test session (the "zygote",
started at first use, ended with the session) that imported torch (about 2 s of CPU each
time a process does) and nothing else; it forks one child per script, all of a call's
children run at once. A child starts as a fresh ``python -c`` would, except that torch is
already imported: it sets its environment variables, ``sys.argv`` and working folder, puts
the ``PYTHONPATH`` it was given first on ``sys.path``, then runs the script, which imports
snnlearn and anything else itself. Importing torch starts no thread (its OpenMP pool starts
at the first parallel operation), so forking after it is safe; the zygote runs nothing
else. (Read at interpreter start only, and not emulated: ``PYTHONWARNINGS`` and other
``PYTHON*`` start-up switches.)

Each result is a ``subprocess.CompletedProcess``: ``returncode`` is the script's exit
status (``sys.exit(n)``; 1 for an uncaught exception, whose traceback is in ``stderr``),
or ``-signal`` when the child died by a signal (a crash in C), as ``subprocess`` reports it.

>>> from fresh_python import run_fresh  # the module the tests use (its zygote, not another)
>>> results = run_fresh({"a": ("import os; print(os.environ['X'])", {"X": "1"}),
...                      "b": ("import sys; sys.exit(3)", {})})
>>> results["a"].stdout, results["a"].returncode, results["b"].returncode
('1\\n', 0, 3)
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from typing import Dict, Mapping, Optional, Tuple

PRELOAD = ("torch",)

ZYGOTE = r'''
import json, os, sys, tempfile, importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
base_path = list(sys.path)


def child(code, env, argv, cwd):
    os.environ.clear()
    os.environ.update(env)
    extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    sys.path[:] = extra + base_path
    sys.argv = argv
    if cwd:
        os.chdir(cwd)
    exec(compile(code, argv[0], "exec"), {"__name__": "__main__"})


for line in sys.stdin:
    request = json.loads(line)
    children = {}
    for name, (code, env, argv, cwd) in request.items():
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        sys.stdout.flush(); sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: this script only
            status = 0
            try:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                child(code, env, argv, cwd)
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else (exit_.code is not None)
                if not isinstance(exit_.code, (int, type(None))):
                    print(exit_.code, file=sys.stderr)
            except BaseException:
                import traceback
                traceback.print_exc()
                status = 1
            finally:
                try:
                    sys.stdout.flush(); sys.stderr.flush()
                finally:
                    os._exit(status)
        children[pid] = (name, out, err)
    results = {}
    while children:
        pid, status = os.wait()
        name, out, err = children.pop(pid)
        texts = []
        for handle in (out, err):
            handle.seek(0)
            texts.append(handle.read().decode("utf-8", "replace"))
            handle.close()
        results[name] = [os.waitstatus_to_exitcode(status)] + texts
    sys.stdout.write(json.dumps(results) + "\n")
    sys.stdout.flush()
'''

Script = Tuple[str, Mapping[str, str]]
_zygote: Optional[subprocess.Popen] = None


def _stop():
    if _zygote is not None and _zygote.poll() is None:
        _zygote.stdin.close()
        try:
            _zygote.wait(timeout=30)
        except subprocess.TimeoutExpired:
            _zygote.kill()
            _zygote.wait()


def _started() -> subprocess.Popen:
    global _zygote
    if _zygote is None or _zygote.poll() is not None:
        _zygote = subprocess.Popen([sys.executable, "-c", ZYGOTE, *PRELOAD],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        atexit.register(_stop)
    return _zygote


def as_script(path) -> str:
    """Code that runs the file ``path`` as ``python path`` would (its folder first on
    ``sys.path``, ``__name__ == "__main__"``); pass ``sys.argv`` with ``run_fresh(argv=)``."""
    path = os.path.abspath(path)
    return (f"import runpy, sys; sys.path.insert(0, {os.path.dirname(path)!r}); "
            f"runpy.run_path({path!r}, run_name='__main__')")


def run_fresh(scripts: Mapping[str, Script], env: Optional[Mapping[str, str]] = None,
              argv: Optional[Mapping[str, list]] = None, cwd=None,
              timeout: float = 300) -> Dict[str, subprocess.CompletedProcess]:
    """Run each ``name: (code, extra environment variables)`` of ``scripts`` in its own
    fresh child (all at once); ``env`` is their environment before the extras (default:
    this process's), ``cwd`` their working folder, ``argv`` optional ``sys.argv`` per
    script. Waits ``timeout`` seconds at most for all of them."""
    argv = argv or {}
    base = dict(os.environ if env is None else env)
    request = {name: [code, {**base, **extra}, list(argv.get(name, ["-c"])),
                      None if cwd is None else str(cwd)]
               for name, (code, extra) in scripts.items()}
    zygote = _started()
    zygote.stdin.write(json.dumps(request) + "\n")
    zygote.stdin.flush()
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(zygote.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            zygote.kill()  # its children finish on their own; a new zygote for the next call
            raise TimeoutError(f"scripts {sorted(scripts)} did not finish in {timeout} s")
    line = zygote.stdout.readline()
    if not line:
        raise RuntimeError(f"the interpreter that runs the scripts died "
                           f"(status {zygote.wait()})")
    results = json.loads(line)
    return {name: subprocess.CompletedProcess([sys.executable, "-c", scripts[name][0]], *result)
            for name, result in results.items()}
