"""Fuzzing the compiled modules' boundary: bad arguments raise, they never crash.

Every function of every compiled module is called 3000 times (500 in ``make test-fast``:
tests/tiers.py) with arguments that start from a valid call and are then broken (None or a
non-buffer where a buffer goes, wrong lengths and dtypes, read-only, strided, overlapping
buffers, negative or huge counts, odd thread counts, NaN parameters ...). The calls run in
a CHILD process, so a segmentation fault fails the test instead of killing pytest. Each
call must either succeed (then its outputs must stay inside their buffers: guard elements
around every buffer are checked) or raise TypeError, ValueError or OverflowError; a bad
argument that was accepted fails too.

Adding a compiled function: add a ``Case`` to ``CASES`` below (a builder of one valid call).
Modules listed in ``COMPILED_MODULES`` are also fuzzed generically, from their functions'
signatures alone (every buffer argument replaced by None and other bad objects), so a new
module is covered even before it has builders.

Run by hand: ``python tests/test_c_fuzz.py --child SEED CALLS`` prints a JSON summary.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest

COMPILED_MODULES = ["snnlearn._compiled._lif", "snnlearn._compiled._lif_recurrent"]
CLEAN_ERRORS = (TypeError, ValueError, OverflowError)
GUARD = 7  # sentinel elements on each side of every buffer a builder makes
SENTINEL = -12345.0


# ---- valid calls ----------------------------------------------------------------------

def guarded(rng, count: int, dtype, fill: str = "random") -> np.ndarray:
    """A C-contiguous array of ``count`` elements inside a larger one whose GUARD elements
    on each side hold SENTINEL (checked after every successful call); a third of the
    time an array of exactly ``count`` elements, whose edges AddressSanitizer watches."""
    if rng.random() < 0.3:
        array = np.empty(count, dtype=dtype)
    else:
        base = np.full(count + 2 * GUARD, SENTINEL, dtype=dtype)
        array = base[GUARD:GUARD + count]
    if fill == "random":  # (a short random pattern repeated: large arrays stay cheap)
        array[:] = np.resize(rng.standard_normal(min(count, 257)), count)
    else:
        array[:] = 0
    return array


def guards_intact(array: np.ndarray) -> bool:
    base = array.base
    if not isinstance(base, np.ndarray) or base.size != array.size + 2 * GUARD:
        return True  # not one of ours (a replacement): nothing to check
    return bool(np.all(base[:GUARD] == SENTINEL) and np.all(base[GUARD + array.size:] == SENTINEL))


def lif_sizes(rng) -> Tuple[int, int]:
    """(steps, neurons): mostly small, sometimes at block and thread-split boundaries."""
    from snnlearn._compiled import _lif

    roll = rng.random()
    if roll < 0.01:  # large enough to be split over threads
        return 2, _lif.PARALLEL_MIN_WORK // 2 + int(rng.integers(0, 40))
    if roll < 0.1:
        return int(rng.integers(0, 3)), _lif.BLOCK + int(rng.integers(-1, 2))
    return int(rng.integers(0, 6)), int(rng.integers(0, 40))


def lif_params(rng) -> Dict[str, float]:
    return dict(dt=0.001, tau_syn_inv=200.0, tau_mem_inv=100.0, v_th=1.0, v_reset=0.0,
                threads=pick(rng, [1, 2, 3, 7]))


def lif_forward_call(rng):
    steps, n = lif_sizes(rng)
    dtype = pick(rng, [np.float32, np.float64])
    args = [guarded(rng, steps * n, dtype), guarded(rng, n, dtype), guarded(rng, n, dtype),
            guarded(rng, steps * n, dtype, "zero"),
            None if rng.random() < 0.3 else guarded(rng, steps * n, dtype, "zero")]
    return args, dict(lif_params(rng), steps=steps, v_leak=0.0, from_rest=rng.random() < 0.5)


def lif_backward_call(rng):
    steps, n = lif_sizes(rng)
    dtype = pick(rng, [np.float32, np.float64])
    args = [guarded(rng, steps * n, dtype), guarded(rng, steps * n, dtype),
            guarded(rng, n, dtype), guarded(rng, n, dtype), guarded(rng, steps * n, dtype, "zero")]
    return args, dict(lif_params(rng), steps=steps, alpha=100.0)


def recurrent_sizes(rng):
    """(steps, batch, hidden): mostly small, sometimes large enough to split over threads."""
    from snnlearn._compiled import _lif_recurrent

    if rng.random() < 0.02:
        return 2, _lif_recurrent.PARALLEL_MIN_WORK // 128 + int(rng.integers(0, 5)), 64
    # batch >= 1: with hidden^2 recurrent weights, a batch of 0 leaves some buffers non-empty
    # while any steps is valid, which the harness (all buffers empty) would call bad
    return int(rng.integers(0, 6)), int(rng.integers(1, 9)), int(rng.integers(1, 40))


def lif_recurrent_forward_call(rng):
    steps, batch, hidden = recurrent_sizes(rng)
    dtype = pick(rng, [np.float32, np.float64])
    total, state = steps * batch * hidden, batch * hidden
    args = [guarded(rng, total, dtype), guarded(rng, hidden * hidden, dtype),
            guarded(rng, state, dtype), guarded(rng, state, dtype),
            guarded(rng, total, dtype, "zero"),
            None if rng.random() < 0.3 else guarded(rng, total, dtype, "zero")]
    return args, dict(lif_params(rng), steps=steps, batch=batch, hidden=hidden, v_leak=0.0)


def lif_recurrent_backward_call(rng):
    steps, batch, hidden = recurrent_sizes(rng)
    dtype = pick(rng, [np.float32, np.float64])
    total, state = steps * batch * hidden, batch * hidden
    args = [guarded(rng, total, dtype), guarded(rng, total, dtype),
            guarded(rng, hidden * hidden, dtype), guarded(rng, state, dtype),
            guarded(rng, state, dtype), guarded(rng, total, dtype, "zero")]
    return args, dict(lif_params(rng), steps=steps, batch=batch, hidden=hidden, alpha=100.0)
def li_params(rng) -> Dict[str, float]:
    return dict(dt=0.001, tau_syn_inv=200.0, tau_mem_inv=100.0, threads=pick(rng, [1, 2, 3, 7]))


def li_forward_call(rng):
    steps, n = lif_sizes(rng)
    dtype = pick(rng, [np.float32, np.float64])
    args = [guarded(rng, steps * n, dtype), guarded(rng, n, dtype), guarded(rng, n, dtype),
            guarded(rng, steps * n, dtype, "zero")]
    return args, dict(li_params(rng), steps=steps, v_leak=0.0, from_rest=rng.random() < 0.5)


def li_backward_call(rng):
    steps, n = lif_sizes(rng)
    dtype = pick(rng, [np.float32, np.float64])
    args = [guarded(rng, steps * n, dtype), guarded(rng, n, dtype), guarded(rng, n, dtype),
            guarded(rng, steps * n, dtype, "zero")]
    return args, dict(li_params(rng), steps=steps)


@dataclass
class Case:
    """One compiled function: how to build a valid call, and which of its positional
    arguments are outputs (written) and which may be None."""

    module: str
    function: str
    valid_call: Callable  # rng -> (positional list, keyword dict)
    outputs: Tuple[int, ...]
    optional: Tuple[int, ...] = ()
    counts: Tuple[str, ...] = ("steps",)  # integer keywords that size the buffers
    threads: str = "threads"
    # (output, input): the output may be the input's very array (the kernel reads each row
    # of the input before it writes that row of the output); any other sharing is refused
    may_be: Tuple[Tuple[int, int], ...] = ()
    # the optional per-neuron buffers the neuron count is read from: with all of them None
    # it is the (steps * n) buffers' length over steps, so another steps that divides that
    # length is a valid call of another shape (a backward's gradients of the state)
    count_from: Tuple[int, ...] = ()


# One row per compiled function. Another compiled module adds its rows here.
CASES: List[Case] = [
    Case("snnlearn._compiled._lif", "forward", lif_forward_call, outputs=(1, 2, 3, 4), optional=(4,)),
    Case("snnlearn._compiled._lif", "backward", lif_backward_call, outputs=(2, 3, 4),
         optional=(2, 3), count_from=(2, 3)),
    Case("snnlearn._compiled._lif_recurrent", "forward", lif_recurrent_forward_call,
         outputs=(2, 3, 4, 5), optional=(5,), counts=("steps", "batch", "hidden"),
         may_be=((4, 0), (5, 0))),
    Case("snnlearn._compiled._lif_recurrent", "backward", lif_recurrent_backward_call,
         outputs=(3, 4, 5), counts=("steps", "batch", "hidden")),
    Case("snnlearn._compiled._lif", "li_forward", li_forward_call, outputs=(1, 2, 3)),
    Case("snnlearn._compiled._lif", "li_backward", li_backward_call, outputs=(1, 2, 3),
         optional=(1, 2), count_from=(1, 2)),
]


# ---- ways to break a call -----------------------------------------------------------------

NON_BUFFERS = [None, 1.0, 3, "abc", [1.0, 2.0], (1.0,), object(), {"a": 1}, range(4),
               memoryview(b"abcd")]


def bad_buffer(rng, original, args):
    """A replacement for a buffer argument that must be refused, and why."""
    size = original.size if isinstance(original, np.ndarray) else 4
    dtype = original.dtype if isinstance(original, np.ndarray) else np.dtype(np.float32)
    other = np.float64 if dtype == np.float32 else np.float32
    choices = [
        lambda: (NON_BUFFERS[int(rng.integers(len(NON_BUFFERS)))], "not a buffer"),
        lambda: (np.zeros(size + 1, dtype), "one element too many"),
        lambda: (np.zeros(max(size - 1, 0), dtype) if size else np.zeros(1, dtype), "wrong length"),
        lambda: (np.zeros(size, pick(rng, [np.int32, np.int64, np.float16, np.uint8, np.complex64])),
                 "wrong dtype"),
        lambda: (np.zeros(size, dtype).astype(dtype.newbyteorder(">")) if size else
                 np.zeros(1, dtype), "big-endian or wrong length"),
        lambda: (bytes(size * dtype.itemsize + 1), "bytes"),
        lambda: (np.zeros(2 * size + 2, dtype)[::2], "strided"),
        lambda: (np.zeros((2, size + 1), dtype, order="F"), "Fortran order, wrong length"),
        lambda: (np.zeros(size, other) if any(isinstance(a, np.ndarray) and a.size for a in args)
                 else np.zeros(size + 1, other), "mixed dtypes"),
    ]
    return choices[int(rng.integers(len(choices)))]()


def pick(rng, choices):
    return choices[int(rng.integers(len(choices)))]


def read_only(array):
    copy = np.array(array)
    copy.setflags(write=False)
    return copy


BAD_COUNTS = [-1, -2, -(2**31), -(2**63), 2**31, 2**62, 2**63 - 1, 2**63, 2**64, 10**30]
BAD_THREADS = [0, -1, -(2**31), 2**31, 2**63, 10**30]
ODD_THREADS = [1, 2, 3, 5, 63, 64, 65, 1000, 2**31 - 1]
BAD_NUMBERS = [None, "1.0", [1.0], object(), 1j]
ODD_FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 10**400]


def count_is_valid(case: Case, name: str, value, args: list, original_args: list) -> bool:
    """Whether a changed count still sizes the buffers consistently."""
    if not (type(value) is int and 0 <= value < 2**63):
        return False
    # with no neurons, any count in range sizes every buffer at 0 elements
    if all(isinstance(a, np.ndarray) and a.size == 0 for a in args if a is not None):
        return True
    if name == "steps" and case.count_from and value > 0 and \
            all(k < len(args) and args[k] is None for k in case.count_from):
        total = original_args[case.outputs[-1]].size  # a (steps * n) buffer as it was made
        return total % value == 0
    return False


def mutate(rng, case: Case, args: list, kwargs: dict) -> Tuple[list, dict, List[str], bool]:
    """Break the call in one or two ways. Returns (args, kwargs, what was done,
    whether the call must now fail). A later change to the same argument overrides an
    earlier one, so the verdict is kept per argument."""
    original_args, original_kwargs = list(args), dict(kwargs)
    original_count, original_names = len(args), set(kwargs)
    args, kwargs = list(args), dict(kwargs)
    done: List[str] = []
    reshaped = False  # positional arguments dropped or added
    aliased: List[int] = []  # arguments given another argument's array
    bad: Dict[object, bool] = {}  # argument (index or keyword) -> must the call fail
    counts: List[str] = []  # count keywords changed
    resized: List[int] = []  # per-neuron buffers the count is read from, given another length
    for _ in range(int(rng.integers(1, 3))):
        kind = rng.random()
        if kind < 0.45:  # a buffer argument
            if not args:
                continue
            k = int(rng.integers(len(args)))
            if k in bad or k >= original_count:  # one change per argument
                continue
            if k in case.optional and rng.random() < 0.3:
                args[k], bad[k] = None, False
                done.append(f"arg {k}: None (optional)")
            elif k in case.outputs and isinstance(args[k], np.ndarray) and rng.random() < 0.25:
                args[k], bad[k] = read_only(args[k]), True
                done.append(f"arg {k}: read-only output")
            elif rng.random() < 0.15:
                j = int(rng.integers(len(args)))
                if j == k or not isinstance(args[j], np.ndarray) or not args[j].size or \
                        not (k in case.outputs or j in case.outputs) or \
                        not isinstance(original_args[k], np.ndarray) or \
                        args[j].size != original_args[k].size:
                    continue
                args[k], bad[k] = args[j], True
                aliased.append(k)
                done.append(f"arg {k}: aliases arg {j}")
            else:
                source = original_args[k] if k < original_count else args[k]
                replacement, why = bad_buffer(rng, source, args)
                if replacement is None and k in case.optional:
                    continue
                if "length" in why or "too many" in why:
                    # Two buffers given the same wrong length can make a consistent, valid
                    # call (state buffers of n - 1 neurons with steps = 0): one per call.
                    if any("length" in d or "too many" in d for d in done):
                        continue
                args[k], bad[k] = replacement, True
                done.append(f"arg {k}: {why}")
                if ("length" in why or "too many" in why) and k in case.count_from:
                    resized.append(k)
        elif kind < 0.6:  # a count that sizes the buffers
            name = pick(rng, case.counts)
            if name in bad:
                continue
            if rng.random() < 0.5:
                value = pick(rng, BAD_COUNTS)
            else:
                current = original_kwargs.get(name)
                value = pick(rng, [1.5, "3", None, (current if type(current) is int else 0) + 1])
            kwargs[name] = value
            done.append(f"{name}={value!r}")
            counts.append(name)  # judged at the end, on the final arguments
        elif kind < 0.75:  # threads
            if case.threads in bad:
                continue
            if rng.random() < 0.5:
                kwargs[case.threads], bad[case.threads] = pick(rng, BAD_THREADS), True
            else:
                kwargs[case.threads], bad[case.threads] = pick(rng, ODD_THREADS), False
            done.append(f"threads={kwargs[case.threads]!r}")
        elif kind < 0.9:  # a floating-point parameter
            names = [k for k, v in original_kwargs.items() if isinstance(v, float)]
            if not names:
                continue
            name = pick(rng, names)
            if name in bad:
                continue
            kwargs[name] = pick(rng, BAD_NUMBERS) if rng.random() < 0.3 else pick(rng, ODD_FLOATS)
            bad[name] = not isinstance(kwargs[name], float)  # ints too large for a double too
            done.append(f"{name}={kwargs[name]!r}")
        else:  # the shape of the call itself
            how = int(rng.integers(4))
            if how == 0 and args:
                args, reshaped = args[:int(rng.integers(len(args)))], True
                done.append("too few positional")
            elif how == 1:
                args.append(np.zeros(3))
                reshaped = True
                done.append("extra positional")
            elif how == 2 and kwargs:
                kwargs.pop(pick(rng, sorted(kwargs)))
                done.append("missing keyword")
            elif how == 3:
                kwargs["no_such_argument"] = 1
                done.append("unknown keyword")
    for k in aliased:  # still sharing memory (a later change may have replaced the other)?
        if k < len(args) and args[k].flags.writeable:
            bad[k] = any(m != k and isinstance(a, np.ndarray) and np.shares_memory(args[k], a)
                         and not (a is args[k] and ((k, m) in case.may_be or (m, k) in case.may_be))
                         for m, a in enumerate(args))
    for name in counts:
        bad[name] = not count_is_valid(case, name, kwargs.get(name), args, original_args)
    for k in resized:  # the only count given: with no steps it is another valid shape
        if not reshaped and kwargs.get("steps") == 0 and \
                all(m == k or args[m] is None for m in case.count_from) and \
                isinstance(args[k], np.ndarray) and args[k].dtype == original_args[k].dtype \
                and args[k].flags.c_contiguous and args[k].flags.writeable:
            bad[k] = False
    must_fail = any(bad.values()) or reshaped or set(kwargs) != original_names
    return args, kwargs, done, must_fail


# ---- the child process ----------------------------------------------------------------------

def fuzz_cases(rng, calls: int, summary: dict) -> List[str]:
    problems = []
    for case in CASES:
        try:
            module = importlib.import_module(case.module)
        except ImportError:
            continue
        function = getattr(module, case.function)
        tally = summary.setdefault(f"{case.module}.{case.function}", {})
        for index in range(calls):
            args, kwargs = case.valid_call(rng)
            if index % 4 == 0:  # a quarter stay valid: they must succeed
                args2, kwargs2, done, must_fail = args, kwargs, ["valid"], False
            else:
                args2, kwargs2, done, must_fail = mutate(rng, case, args, kwargs)
            try:
                function(*args2, **kwargs2)
            except CLEAN_ERRORS as error:
                tally[type(error).__name__] = tally.get(type(error).__name__, 0) + 1
                if not must_fail:
                    problems.append(f"{case.function} {done}: refused a valid call: {error!r}")
                elif not str(error):
                    problems.append(f"{case.function} {done}: {type(error).__name__} without a message")
                continue
            except Exception as error:  # noqa: BLE001 - anything else is a bug to report
                problems.append(f"{case.function} {done}: raised {error!r}")
                continue
            tally["ok"] = tally.get("ok", 0) + 1
            if must_fail:
                problems.append(f"{case.function} {done}: accepted a bad call")
            for k, a in enumerate(args2):
                if isinstance(a, np.ndarray) and not guards_intact(a):
                    problems.append(f"{case.function} {done}: wrote outside argument {k}")
    return problems


def generic_arguments(rng, positional: int, keywords: List[str]):
    pool = NON_BUFFERS + [np.zeros(0), np.zeros(3, np.float32), np.zeros(5), read_only(np.zeros(4)),
                          np.zeros(10)[::2], np.zeros(4, np.int32), bytes(8), bytearray(16)]
    args = [pool[int(rng.integers(len(pool)))] for _ in range(positional)]
    numbers = [0, 1, 2, -1, 3, 2**31, 2**63, 0.5, math.nan, None]
    kwargs = {name: numbers[int(rng.integers(len(numbers)))] for name in keywords}
    return args, kwargs


def fuzz_generically(rng, calls: int, summary: dict) -> List[str]:
    """Every public function of every importable compiled module, knowing only its
    signature: random bad objects (and small float arrays) as positional arguments."""
    problems = []
    for name in COMPILED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for attr in sorted(dir(module)):
            function = getattr(module, attr)
            if attr.startswith("_") or not callable(function):
                continue
            try:
                parameters = list(inspect.signature(function).parameters.values())
                positional = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                                 for p in parameters)
                keywords = [p.name for p in parameters if p.kind == p.KEYWORD_ONLY]
            except (TypeError, ValueError):  # no signature: guess
                positional, keywords = 6, []
            tally = summary.setdefault(f"generic {name}.{attr}", {})
            for _ in range(calls):
                args, kwargs = generic_arguments(rng, positional, keywords)
                if args and rng.random() < 0.5:
                    args[int(rng.integers(len(args)))] = None
                try:
                    function(*args, **kwargs)
                except CLEAN_ERRORS as error:
                    tally[type(error).__name__] = tally.get(type(error).__name__, 0) + 1
                except Exception as error:  # noqa: BLE001
                    problems.append(f"generic {name}.{attr}: raised {error!r}")
                else:
                    tally["ok"] = tally.get("ok", 0) + 1
    return problems


def child(seed: int, calls: int) -> int:
    import faulthandler

    faulthandler.enable()  # a crash prints the Python stack of the call that made it
    rng = np.random.default_rng(seed)
    summary: dict = {"modules": {}}
    for name in COMPILED_MODULES:
        try:
            summary["modules"][name] = importlib.import_module(name).__file__
        except ImportError:
            pass
    problems = fuzz_cases(rng, calls, summary) + fuzz_generically(rng, calls // 4, summary)
    print(json.dumps({"summary": summary, "problems": problems[:40],
                      "problem_count": len(problems)}))
    return 0


# ---- the tests (parent process) ---------------------------------------------------------------

def run_child(seed: int, calls: int, timeout: float = 120) -> dict:
    import snnlearn

    # the child imports the snnlearn the parent imported (e.g. make test-sanitize's copy),
    # not whatever a script's directory or the editable install would give it
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(snnlearn.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_parent] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    # forked from an interpreter that imported torch only (tests/fresh_python.py): the
    # child imports the compiled modules itself, and its crash is reported as a signal
    from fresh_python import as_script, run_fresh

    code = as_script(__file__)
    result = run_fresh({"child": (code, {})}, env=env, timeout=timeout,
                       argv={"child": [__file__, "--child", str(seed), str(calls)]})["child"]
    assert result.returncode >= 0, (
        f"the fuzzing child died by signal {-result.returncode} (a crash in C)\n"
        f"stderr:\n{result.stderr[-3000:]}")
    assert result.returncode == 0, f"child failed:\n{result.stderr[:6000]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_compiled_functions_never_crash_and_refuse_bad_arguments_cleanly():
    import pytest

    try:
        lif = importlib.import_module("snnlearn._compiled._lif")
    except ImportError:
        pytest.skip("C extension not built")
    from tiers import budget  # (here, not at the top: the child runs this file too)

    calls = budget(3000, 500)  # per compiled function: make test, make test-fast (tests/tiers.py)
    report = run_child(seed=20261203, calls=calls)
    assert report["summary"]["modules"]["snnlearn._compiled._lif"] == lif.__file__, "the child fuzzed another build"
    assert report["problem_count"] == 0, "\n".join(report["problems"])
    for case in CASES:
        key = f"{case.module}.{case.function}"
        if key not in report["summary"]:
            continue  # module not built
        tally = report["summary"][key]
        assert sum(tally.values()) == calls
        assert tally.get("ok", 0) >= calls // 4, tally  # the valid quarter at least
        for error in ("TypeError", "ValueError", "OverflowError"):
            assert tally.get(error, 0) > 10, f"{key}: too few {error}s to trust: {tally}"
    assert any(key.startswith("generic snnlearn._compiled._lif.") for key in report["summary"])


def test_the_child_reports_a_crash_as_a_signal(tmp_path):
    """The harness itself: a child that dies by a signal fails loudly (not silently passes).
    (Without the sanitizer runtime: AddressSanitizer turns a crash into exit status 1.)"""
    script = tmp_path / "crash.py"
    script.write_text("import ctypes\nctypes.string_at(0)\n")
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, env=env)
    assert result.returncode < 0


def test_a_sanitized_run_tests_the_sanitized_build():
    """Under `make test-sanitize`, the module imported is the ASan/UBSan build of the
    scratch copy, not the editable install's."""
    import pytest

    if not os.environ.get("SNNLEARN_EXPECT_SANITIZED"):
        pytest.skip("only under make test-sanitize")
    for name in COMPILED_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        assert os.path.realpath(module.__file__).startswith(os.path.realpath(os.getcwd())), module.__file__
        with open(module.__file__, "rb") as library:
            binary = library.read()
        assert b"__asan_report" in binary and b"__ubsan_handle" in binary, f"{name} is not sanitized"


# ---- each way to break a call, once per compiled function ------------------------------
# The buffer checks live once in _buffers.h and the thread and size checks in _common.h and
# each module; these tests run every check on every function of CASES (the fuzzer above
# finds the crashes, these pin the messages a caller reads).

def _module_or_skip(case: Case):
    try:
        return importlib.import_module(case.module)
    except ImportError:
        pytest.skip(f"{case.module} is not built")


def nonempty_call(case: Case):
    """A valid call of ``case`` whose buffers are small and all non-empty (same every run),
    with the names of its positional arguments."""
    function = getattr(_module_or_skip(case), case.function)
    names = list(inspect.signature(function).parameters)
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        args, kwargs = case.valid_call(rng)
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        if len(arrays) == len(args) and all(0 < a.size < 5000 for a in arrays):
            kwargs["threads"] = 1
            return function, names[:len(args)], args, kwargs
    raise AssertionError(f"no small valid call of {case.module}.{case.function}")


CASE_IDS = [f"{case.module.rsplit('.', 1)[-1]}.{case.function}" for case in CASES]
BUFFER_POSITIONS = [(case, k) for case in CASES for k in range(len(case.valid_call(
    np.random.default_rng(0))[0]))]
BUFFER_IDS = [f"{case.module.rsplit('.', 1)[-1]}.{case.function}-{k}" for case, k in BUFFER_POSITIONS]
OUTPUT_POSITIONS = [(case, k) for case in CASES for k in case.outputs]
OUTPUT_IDS = [f"{case.module.rsplit('.', 1)[-1]}.{case.function}-{k}" for case, k in OUTPUT_POSITIONS]


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_a_valid_call_runs(case):
    function, _, args, kwargs = nonempty_call(case)
    assert function(*args, **kwargs) is None


@pytest.mark.parametrize("case, position", BUFFER_POSITIONS, ids=BUFFER_IDS)
def test_each_buffer_is_checked_by_name(case, position):
    function, names, args, kwargs = nonempty_call(case)
    name, size = names[position], args[position].size
    other = np.float64 if args[position].dtype == np.float32 else np.float32

    def call_with(replacement):
        return function(*(args[:position] + [replacement] + args[position + 1:]), **kwargs)

    if position in case.optional:
        assert call_with(None) is None
    else:  # (backward's v_pre: "is required", a ValueError)
        with pytest.raises((TypeError, ValueError),
                           match=f"^{name} (must be a float32 or float64 buffer|is required)"):
            call_with(None)
    for bad in ([1.0] * size, "x", 3.0):
        with pytest.raises(TypeError, match=f"^{name} must be a float32 or float64 buffer"):
            call_with(bad)
    with pytest.raises(ValueError, match="elements, expected"):  # this one or one it sizes
        call_with(np.zeros(size + 1, args[position].dtype))
    with pytest.raises(TypeError, match=f"^{name} must hold float32 or float64"):
        call_with(np.ones(size, np.int32))
    with pytest.raises(TypeError, match="one dtype"):
        call_with(np.zeros(size, other))
    with pytest.raises(ValueError, match=f"^{name} must be a (C-)?contiguous"):
        call_with(np.zeros(2 * size, args[position].dtype)[::2])


@pytest.mark.parametrize("case, position", OUTPUT_POSITIONS, ids=OUTPUT_IDS)
def test_each_output_must_be_writable_and_apart(case, position):
    function, names, args, kwargs = nonempty_call(case)
    name = names[position]
    frozen = list(args)
    frozen[position] = read_only(args[position])
    with pytest.raises(ValueError, match=f"^{name} must be a C-contiguous, writable"):
        function(*frozen, **kwargs)
    same_size = [k for k, a in enumerate(args) if k != position and a.size == args[position].size
                 and (position, k) not in case.may_be]
    assert same_size, "no other buffer of this size to overlap with"
    aliased = list(args)
    aliased[position] = args[same_size[0]]
    with pytest.raises(ValueError, match="overlaps"):
        function(*aliased, **kwargs)
    for output, source in case.may_be:  # partial overlap with the one it may be: refused
        if output == position:
            shifted = list(args)
            doubled = np.zeros(2 * args[source].size, args[source].dtype)
            shifted[source], shifted[output] = doubled[1:1 + args[source].size], doubled[:args[source].size]
            with pytest.raises(ValueError, match="overlaps"):
                function(*shifted, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("threads, error", [(0, ValueError), (-3, ValueError),
                                            (2**31, OverflowError), (1.5, TypeError)])
def test_bad_thread_counts(case, threads, error):
    function, _, args, kwargs = nonempty_call(case)
    with pytest.raises(error):
        function(*args, **dict(kwargs, threads=threads))


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bad_counts_and_missing_keywords(case):
    function, _, args, kwargs = nonempty_call(case)
    for count in case.counts:
        with pytest.raises(ValueError, match=">= 0|>= 1"):
            function(*args, **dict(kwargs, **{count: -1}))
    with pytest.raises(OverflowError):
        function(*args, **dict(kwargs, **{count: 2**62 for count in case.counts}))
    with pytest.raises(TypeError):
        function(*args, **{k: v for k, v in kwargs.items() if k != "steps"})


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--child":
    sys.exit(child(int(sys.argv[2]), int(sys.argv[3])))
