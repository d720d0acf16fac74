"""Test verdicts made outside the learner's process, from plain data.

A graded test cell is written in up to three kinds of parts, separated by marker lines::

    x = torch.tensor([0.0, 10.0])      # inputs: run in the learner's kernel AND in the grader
    # [call]
    z, state = lif_step(x, rest)       # call: runs only in the learner's kernel
    # [check]
    assert z.tolist() == [0.0, 0.0]    # check: runs only in the grader, on plain data

``# [inputs]`` starts an inputs part again (a cell may repeat inputs → call → check, e.g. a
visible group followed by a hidden one). In the learner's own notebook the markers are
comments and the cell runs as written. When a submission is graded:

1. the learner's kernel (sandboxed) runs each cell's *inputs* and *call* parts only; after
   each call part it sends the values of the names the following check reads as plain data
   (:func:`encode`, run in the kernel: numbers, strings, tensors and arrays as raw bytes,
   tuples, lists, dicts, snnlearn's NamedTuples; anything else arrives as an
   :class:`Opaque` that only keeps its type's name). The check code never enters the kernel;
   hidden inputs come from ``_grading_seed``, drawn per run by the grader;
2. the grader (nbgrader's process: no learner code runs in it) runs the set-up cells, each
   cell's *inputs* parts and, with the decoded data bound to their names, its *check* parts.
   A check that raises gives the cell an error output (its message, never its code), hence 0
   points in nbgrader's gradebook; a check that passes leaves the cell without output (full
   points). Whatever the kernel printed in a test cell is dropped.

A learner can still make a function return anything, so what the design guarantees is that
points need the right values on inputs drawn at grading time, decided by code the learner
never runs (book/instructor_guide.md, threat model).
"""

from __future__ import annotations

import ast
import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

CALL, CHECK, INPUTS = "# [call]", "# [check]", "# [inputs]"
MARKERS = {CALL: "call", CHECK: "check", INPUTS: "inputs"}
RESULT_MIME = "application/vnd.snnlearn.result+json"
SEED_NAME = "_grading_seed"
EMIT_NAME = "_snnlearn_emit"
# The most bytes of results one test cell may send (decoded arrays); more fails the cell.
RESULT_BYTES = 32 * 2**20
# The most characters a cell's checks may print (the grader's own text, shown as its output).
CHECK_OUTPUT_CHARS = 4000


# --- parsing test cells ------------------------------------------------------------------

@dataclass
class Segment:
    kind: str  # "inputs", "call" or "check"
    code: str


@dataclass
class TestCell:
    """One graded test cell split into its parts; ``emits[k]`` are the names the kernel
    sends after the k-th call part (those the following check reads and a call binds)."""

    index: int
    grade_id: str
    segments: List[Segment]
    emits: Dict[int, Tuple[str, ...]] = field(default_factory=dict)


def is_marked(source: str) -> bool:
    return any(line.strip() in (CALL, CHECK) for line in source.split("\n"))


def split_cell(source: str) -> List[Segment]:
    segments, kind, lines = [], "inputs", []
    for line in source.split("\n"):
        marker = MARKERS.get(line.strip())
        if marker is not None:
            if any(x.strip() for x in lines):
                segments.append(Segment(kind, "\n".join(lines)))
            kind, lines = marker, []
        else:
            lines.append(line)
    if any(x.strip() for x in lines):
        segments.append(Segment(kind, "\n".join(lines)))
    return segments


def names_bound(code: str) -> Set[str]:
    """Top-level names a piece of code assigns, imports or defines."""
    bound: Set[str] = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    return bound


def names_read(code: str) -> Set[str]:
    return {node.id for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_setup_cell(cell) -> bool:
    """A locked code cell that is neither an answer nor a test: the instructor's set-up
    (nbgrader restores locked cells from the gradebook before grading)."""
    meta = _meta(cell)
    return (cell.get("cell_type") == "code" and bool(meta.get("locked"))
            and not meta.get("grade") and not meta.get("solution"))


def learner_names(cells) -> Set[str]:
    """Names the answer cells of a (source) notebook define: a check must never read one."""
    names: Set[str] = set()
    for cell in cells:
        if cell.get("cell_type") == "code" and _meta(cell).get("solution"):
            try:
                tree = ast.parse(cell.get("source", ""))
            except SyntaxError:
                continue
            for node in tree.body:  # top level only: a function's locals are its own
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(node.name)
                else:
                    names |= names_bound(ast.unparse(node))
    return names


def plan(cells) -> List[TestCell]:
    """The marked test cells of a notebook, in order, with the names each call must send:
    those its check reads (before binding them itself) whose last binding, in notebook
    order, was by a call part (a name an inputs part or a set-up cell bound last is the
    grader's own)."""
    out, from_kernel = [], set()
    for index, cell in enumerate(cells):
        if is_setup_cell(cell):
            try:
                from_kernel -= names_bound(cell.get("source", ""))
            except SyntaxError:
                pass
            continue
        if not (is_test_cell(cell) and is_marked(cell.get("source", ""))):
            continue
        test = TestCell(index, _meta(cell).get("grade_id", f"#{index}"),
                        split_cell(cell["source"]))
        for k, segment in enumerate(test.segments):
            if segment.kind == "inputs":
                from_kernel -= names_bound(segment.code)
            elif segment.kind == "call":
                from_kernel |= names_bound(segment.code)
                following = next((s for s in test.segments[k + 1:] if s.kind != "inputs"), None)
                reads = (names_read(following.code) - names_bound(following.code)
                         if following and following.kind == "check" else set())
                test.emits[k] = tuple(sorted(reads & from_kernel))
        out.append(test)
    return out


def lint(cells) -> List[str]:
    """Authoring mistakes in the marked test cells of a source notebook: a check or an
    inputs part that reads a learner's name (it would run the learner's code outside the
    sandbox, or fail), a check before any call, code that does not parse."""
    problems, learner = [], learner_names(cells)
    for cell in cells:
        if not (is_test_cell(cell) and is_marked(cell.get("source", ""))):
            continue
        grade_id = _meta(cell).get("grade_id")
        try:
            segments = split_cell(cell["source"])
            for segment in segments:
                ast.parse(segment.code)
        except SyntaxError as error:
            problems.append(f"{grade_id}: a part does not parse ({error})")
            continue
        if not any(s.kind == "check" for s in segments):
            problems.append(f"{grade_id}: no # [check] part (it would award points for nothing)")
        for segment in segments:
            if segment.kind in ("inputs", "check"):
                used = names_read(segment.code) & learner
                if used:
                    problems.append(f"{grade_id}: its {segment.kind} part uses the learner's "
                                    f"{sorted(used)} (only a # [call] part may)")
    return problems


def kernel_source(test: TestCell) -> str:
    """What the learner's kernel runs for a test cell: its inputs and call parts, each call
    followed by the sending of the names its check reads."""
    parts = []
    for k, segment in enumerate(test.segments):
        if segment.kind == "check":
            continue
        parts.append(segment.code)
        if segment.kind == "call":
            parts.append(f"{EMIT_NAME}({k}, {list(test.emits.get(k, ()))!r})")
    return "\n".join(parts)


# --- plain data: the kernel's encoder (sent as source) and the grader's decoder ----------

# Runs in the learner's kernel (defined by the grader's first cell). It only turns values
# into JSON; the grader trusts nothing of it beyond "these are numbers".
KERNEL_PRELUDE = r'''
def _snnlearn_make_emit(mime, limit):
    import base64, json
    from IPython.display import publish_display_data

    def encode(value, depth=0):
        import numpy as np
        try:
            import torch
        except Exception:
            torch = None
        if depth > 12:
            return {"t": "opaque", "name": "(nested too deep)"}
        if value is None or isinstance(value, (bool, str)):
            return {"t": "value", "v": value[:100000] if isinstance(value, str) else value}
        if isinstance(value, int):
            return {"t": "value", "v": int(value)}
        if isinstance(value, float):
            return {"t": "float", "v": repr(float(value))}
        if torch is not None and isinstance(value, torch.dtype):
            return {"t": "dtype", "v": str(value).replace("torch.", "")}
        if torch is not None and isinstance(value, torch.Size):
            return {"t": "tuple", "items": [int(n) for n in value]}
        if torch is not None and isinstance(value, torch.Tensor):
            t = value.detach().cpu()
            dtype = str(t.dtype).replace("torch.", "")
            if t.dtype in (torch.bfloat16, torch.float16):
                t = t.float()
            array = t.contiguous().numpy()
            return {"t": "tensor", "dtype": dtype, "np": array.dtype.str,
                    "shape": list(array.shape), "grad": bool(value.requires_grad),
                    "b64": base64.b64encode(array.tobytes()).decode()}
        if isinstance(value, np.ndarray) and value.dtype.kind in "biufc":
            array = np.ascontiguousarray(value)
            return {"t": "ndarray", "np": array.dtype.str, "shape": list(array.shape),
                    "b64": base64.b64encode(array.tobytes()).decode()}
        if isinstance(value, np.generic):
            return encode(value.item(), depth + 1)
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):
            kind = type(value)
            return {"t": "namedtuple", "type": f"{kind.__module__}.{kind.__qualname__}",
                    "fields": list(kind._fields),
                    "items": [encode(v, depth + 1) for v in value]}
        if isinstance(value, (tuple, list)):
            return {"t": "tuple" if isinstance(value, tuple) else "list",
                    "items": [encode(v, depth + 1) for v in value[:100000]]}
        if isinstance(value, dict):
            return {"t": "dict", "items": [[encode(k, depth + 1), encode(v, depth + 1)]
                                           for k, v in list(value.items())[:10000]]}
        return {"t": "opaque", "name": type(value).__name__}

    def emit(part, names):
        ns = get_ipython().user_ns
        values = {}
        for name in names:
            if name in ns:
                try:
                    values[name] = encode(ns[name])
                except Exception as error:
                    values[name] = {"t": "opaque", "name": f"(could not be sent: {error})"}
        text = json.dumps({"part": part, "values": values})
        if len(text) > limit:
            text = json.dumps({"part": part, "too_large": len(text)})
        publish_display_data({mime: json.loads(text)})

    return emit

'''


def prelude_source(seed: int) -> str:
    return (KERNEL_PRELUDE + f"{EMIT_NAME} = _snnlearn_make_emit({RESULT_MIME!r}, "
            f"{RESULT_BYTES * 4 // 3 + 2**20})\ndel _snnlearn_make_emit\n{SEED_NAME} = {seed}\n")


class Opaque:
    """A value that is not plain data (a module, a function, ...): only its type's name."""

    def __init__(self, name: str):
        self.name = str(name)[:200]

    def __repr__(self) -> str:
        return f"<{self.name} object>"


class BadData(ValueError):
    pass


_NP_KINDS = set("biufc")


def _named_tuples() -> Dict[str, type]:
    """The NamedTuple types a result may be rebuilt as: snnlearn's public ones."""
    import snnlearn

    out = {}
    for name in getattr(snnlearn, "__all__", dir(snnlearn)):
        kind = getattr(snnlearn, name, None)
        if isinstance(kind, type) and issubclass(kind, tuple) and hasattr(kind, "_fields"):
            out[f"{kind.__module__}.{kind.__qualname__}"] = kind
    return out


class Decoder:
    """Turns the kernel's JSON back into values, checking every field; at most ``limit``
    bytes of array data in all."""

    def __init__(self, limit: int = RESULT_BYTES):
        self.left = limit
        self.tuples = _named_tuples()

    def _array(self, item: dict):
        import numpy as np

        dtype = np.dtype(str(item["np"]))
        if dtype.kind not in _NP_KINDS or dtype.hasobject:
            raise BadData(f"array of {dtype}")
        shape = [int(n) for n in item["shape"]]
        if any(n < 0 for n in shape) or len(shape) > 32:
            raise BadData("bad shape")
        raw = base64.b64decode(str(item["b64"]), validate=True)
        self.left -= len(raw)
        if self.left < 0:
            raise BadData(f"more than {RESULT_BYTES // 2**20} MiB of results")
        count = math.prod(shape)
        if len(raw) != count * dtype.itemsize:
            raise BadData("array size does not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()

    def decode(self, item: Any, depth: int = 0) -> Any:
        if depth > 14 or not isinstance(item, dict):
            raise BadData("malformed value")
        kind = item.get("t")
        if kind == "value":
            value = item.get("v")
            if value is None or isinstance(value, (bool, int, str)):
                return value
            raise BadData("malformed value")
        if kind == "float":
            return float(str(item["v"]))
        if kind == "dtype":
            import torch

            dtype = getattr(torch, str(item["v"]), None)
            return dtype if isinstance(dtype, torch.dtype) else Opaque(f"dtype {item['v']}")
        if kind == "tensor":
            import torch

            dtype = getattr(torch, str(item["dtype"]), None)
            if not isinstance(dtype, torch.dtype):
                raise BadData("unknown tensor dtype")
            tensor = torch.from_numpy(self._array(item)).to(dtype)
            if item.get("grad") is True and (dtype.is_floating_point or dtype.is_complex):
                tensor.requires_grad_(True)
            return tensor
        if kind == "ndarray":
            return self._array(item)
        if kind in ("tuple", "list", "namedtuple"):
            items = [self.decode(v, depth + 1) for v in item["items"]]
            if kind == "list":
                return items
            if kind == "namedtuple":
                cls = self.tuples.get(str(item.get("type")))
                if cls is not None and list(item.get("fields", [])) == list(cls._fields) \
                        and len(items) == len(cls._fields):
                    return cls(*items)
                return Opaque(str(item.get("type", "tuple")).rsplit(".", 1)[-1])
            return tuple(items)
        if kind == "dict":
            out = {}
            for pair in item["items"]:
                key, value = pair
                key = self.decode(key, depth + 1)
                if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                    raise BadData("unhashable key")
                out[key] = self.decode(value, depth + 1)
            return out
        if kind == "opaque":
            return Opaque(item.get("name", "object"))
        raise BadData(f"unknown kind {kind!r}")


# --- the grader's side --------------------------------------------------------------------

@dataclass
class Verdict:
    grade_id: str
    passed: bool
    ename: str = ""
    evalue: str = ""
    stdout: str = ""  # what the checks printed (the grader's own text, capped)


class Grader:
    """Runs set-up cells, inputs and checks in a namespace of its own (no learner code)."""

    def __init__(self, seed: int):
        self.ns: Dict[str, Any] = {"__name__": "__grader__", SEED_NAME: seed}
        self.setup_error: Optional[str] = None

    def run_setup(self, source: str, label: str) -> None:
        if self.setup_error:
            return
        try:
            exec(compile(source, f"<set-up {label}>", "exec"), self.ns)
        except BaseException as error:  # noqa: BLE001  (reported, never raised)
            self.setup_error = f"{label}: {type(error).__name__}: {error}"

    def judge(self, test: TestCell, results: Dict[int, dict],
              kernel_error: Optional[Tuple[str, str]]) -> Verdict:
        """Run the cell's inputs and checks with the data the kernel sent after each call.
        ``kernel_error``: (ename, evalue) the kernel's run of the cell ended with, if any."""
        if self.setup_error:
            return Verdict(test.grade_id, False, "GradingError",
                           f"the grader's set-up failed ({self.setup_error[:300]})")
        import contextlib
        import io

        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            result = self._judge(test, results, kernel_error)
        result.stdout = printed.getvalue()[:CHECK_OUTPUT_CHARS]
        return result

    def _judge(self, test: TestCell, results: Dict[int, dict],
               kernel_error: Optional[Tuple[str, str]]) -> Verdict:
        decoder = Decoder()
        for k, segment in enumerate(test.segments):
            label = f"<test {test.grade_id}>"
            if segment.kind == "call":
                sent = results.get(k)
                if sent is None:
                    ename, evalue = kernel_error or ("GradingError", "")
                    return Verdict(test.grade_id, False, ename or "GradingError",
                                   evalue or "your code did not finish the test's calls")
                if "too_large" in sent:
                    return Verdict(test.grade_id, False, "GradingError",
                                   "the results of your functions are too large to check")
                try:
                    values = {str(name): decoder.decode(value)
                              for name, value in dict(sent.get("values", {})).items()
                              if str(name) in test.emits.get(k, ())}
                except (BadData, KeyError, TypeError, ValueError) as error:
                    return Verdict(test.grade_id, False, "GradingError",
                                   f"the results of your functions could not be read ({error})")
                missing = set(test.emits.get(k, ())) - set(values)
                for name in missing:
                    self.ns.pop(name, None)
                self.ns.update(values)
                continue
            try:
                exec(compile(segment.code, label, "exec"), self.ns)
            except AssertionError as error:
                return Verdict(test.grade_id, False, "AssertionError", str(error)[:2000])
            except Exception as error:  # noqa: BLE001  (the learner's values broke a check)
                return Verdict(test.grade_id, False, type(error).__name__, str(error)[:2000])
        return Verdict(test.grade_id, True)


def parse_result(content: dict) -> Optional[Tuple[int, dict]]:
    """(part, payload) of a display message the kernel's emit sent, or None."""
    data = (content or {}).get("data", {})
    payload = data.get(RESULT_MIME) if isinstance(data, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get("part"), int):
        return None
    return payload["part"], payload
