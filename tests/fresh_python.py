"""Scripts that need a fresh interpreter (nothing of snnlearn imported yet, their own
environment variables, a crash that must not take pytest down), without paying for
``import torch`` once per script.

``run_fresh`` starts ONE interpreter (the "zygote") that imports the modules in
``preload`` (torch: about 2 s of CPU each time) and nothing else, then forks one child per
script; all children run at once. A child starts as a fresh ``python -c`` would, except
that ``preload`` is already imported: snnlearn, and anything the script imports, is
imported by the child itself, after its environment variables are set. Importing torch
starts no thread (its OpenMP pool starts at the first parallel operation), so forking after
it is safe; the zygote runs nothing else.

Each result is a ``subprocess.CompletedProcess``: ``returncode`` is the script's exit
status (``sys.exit(n)``; 1 for an uncaught exception, whose traceback is in ``stderr``),
or ``-signal`` when the child died by a signal (a crash in C), as ``subprocess`` reports it.

>>> results = run_fresh({"a": ("import os; print(os.environ['X'])", {"X": "1"}),
...                      "b": ("import sys; sys.exit(3)", {})}, preload=())
>>> results["a"].stdout, results["a"].returncode, results["b"].returncode
('1\\n', 0, 3)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Dict, Iterable, Mapping, Optional, Tuple

ZYGOTE = r'''
import json, os, sys, tempfile, importlib
request = json.loads(sys.stdin.read())
for name in request["preload"]:
    importlib.import_module(name)
children = {}
for name, (code, env, argv) in request["scripts"].items():
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: this script only
        status = 0
        try:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            os.environ.update(env)
            sys.argv = argv
            exec(compile(code, argv[0], "exec"), {"__name__": "__main__"})
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
    results[name] = [os.waitstatus_to_exitcode(status)] + texts
print(json.dumps(results))
'''

Script = Tuple[str, Mapping[str, str]]


def run_fresh(scripts: Mapping[str, Script], preload: Iterable[str] = ("torch",),
              env: Optional[Mapping[str, str]] = None, argv: Optional[Mapping[str, list]] = None,
              timeout: float = 300) -> Dict[str, subprocess.CompletedProcess]:
    """Run each ``name: (code, extra environment variables)`` of ``scripts`` in its own
    child of one interpreter that imported ``preload`` first; ``env`` is the interpreter's
    environment (default: this process's), ``argv`` optional ``sys.argv`` per script."""
    argv = argv or {}
    request = {"preload": list(preload),
               "scripts": {name: [code, dict(extra), list(argv.get(name, ["-c"]))]
                           for name, (code, extra) in scripts.items()}}
    zygote = subprocess.run([sys.executable, "-c", ZYGOTE], input=json.dumps(request),
                            capture_output=True, text=True, timeout=timeout,
                            env=dict(os.environ if env is None else env))
    if zygote.returncode != 0:
        raise RuntimeError(f"the interpreter that runs the scripts failed "
                           f"(status {zygote.returncode}):\n{zygote.stderr[-3000:]}")
    results = json.loads(zygote.stdout.strip().splitlines()[-1])
    return {name: subprocess.CompletedProcess([sys.executable, "-c", scripts[name][0]], *result)
            for name, result in results.items()}
