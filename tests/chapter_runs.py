"""Each chapter executed ONCE per test session, for the book build and for its exercises.

A chapter's exercise is three pieces: an answer cell with a stub (``x = None  # replace``),
a check cell (first line ``# Check`` or ``# Self-check``) that says "Not solved yet" while
the stub is untouched, and a ``{dropdown} Solution`` holding a ``python`` code block.

``run_chapters`` runs each chapter in one Jupyter kernel (two kernels at a time): first its
published cells, exactly as the book build executes them (the notebook myst-nb's own reader
makes of the page, the kernel in the page's folder, the build's timeout, no per-cell timing
metadata), then, in the same kernel, every exercise once more with its solution appended to
the answer cell, followed by its check cell, as a learner who copied the solutions would.
The executed published notebook is kept: ``seed_cache`` stores it in the book build's
jupyter-cache (myst-nb's ``execute_notebooks: cache``; the key is jupyter-cache's hash of
the code cells and the kernelspec) so that the build takes the outputs from there instead
of executing the chapter again. A chapter whose published cells fail is not stored: the
build executes it and fails on the error itself. (``make book`` for learners seeds
nothing: it executes every chapter.)

>>> from paths import course_chapters
>>> notebook = published_notebook("book/02_spiking_neurons")
>>> notebook.metadata.kernelspec.name, len(exercises(notebook)) >= 2
('python3', True)
"""

from __future__ import annotations

import asyncio
import copy
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import nbformat

from paths import ROOT, load_yaml, source_of

SOLUTION = re.compile(r"\{dropdown\}\s*Solution.*?```python\n(.*?)```", re.S)
# Chapter kernels run at once: the machine CI runs on has two cores.
PARALLEL = 2


def is_check(cell) -> bool:
    first = cell.source.lstrip().split("\n", 1)[0].lower()
    return cell.cell_type == "code" and first.startswith(("# check", "# self-check"))


def source_path(page: str) -> Path:
    """A TOC page's source file (``"book/02_spiking_neurons"``), or ``page`` itself when it
    is a file (a chapter outside the book, as the tests of this module write)."""
    path = Path(page) if Path(page).is_file() else source_of(page)
    if path is None:
        raise FileNotFoundError(f"no source for the page {page!r}")
    return path


def has_exercises(page: str) -> bool:
    return bool(SOLUTION.search(source_path(page).read_text(encoding="utf-8")))


def published_notebook(page: str) -> nbformat.NotebookNode:
    """The chapter as the book build reads it: myst-nb's reader (the one its Sphinx parser
    calls) with the MyST extensions of ``_config.yml``, so that jupyter-cache's key of the
    notebook is the key the build computes."""
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig

    path = source_path(page)
    text = path.read_text(encoding="utf-8")
    extensions = (load_yaml("_config.yml").get("parse") or {}).get("myst_enable_extensions", [])
    reader = create_nb_reader(str(path), MdParserConfig(enable_extensions=set(extensions)),
                              NbParserConfig(), text)
    if reader is None:
        raise ValueError(f"{page} is not a notebook (no Jupytext front matter)")
    return reader.read(text)


def exercises(notebook) -> List[Tuple[str, str]]:
    """[(answer cell with its solution appended, check cell)]: one per dropdown solution,
    the answer cell being the one just before the nearest check cell above the dropdown."""
    cells, out = notebook.cells, []
    for index, cell in enumerate(cells):
        if cell.cell_type != "markdown":
            continue
        for solution in SOLUTION.findall(cell.source):
            check = next((k for k in range(index - 1, -1, -1) if is_check(cells[k])), None)
            assert check is not None and check > 0, f"no check cell before: {solution[:60]!r}"
            answer = cells[check - 1]
            assert answer.cell_type == "code" and not is_check(answer), (
                f"the cell before the check {cells[check].source[:60]!r} is not an answer cell")
            out.append((answer.source + "\n\n# --- the solution ---\n" + solution,
                        cells[check].source))
    return out


@dataclass
class ChapterRun:
    """One chapter's kernel: ``published`` the executed published notebook (None when one
    of its cells failed: ``error`` says which and why), ``solved`` the executed
    (answer + solution, check) cell pairs, ``seconds`` the published part's run time."""

    page: str
    published: Optional[nbformat.NotebookNode] = None
    solved: List[Tuple[nbformat.NotebookNode, nbformat.NotebookNode]] = field(default_factory=list)
    error: Optional[str] = None
    seconds: float = 0.0
    solutions_seconds: float = 0.0


def _error_of(cells) -> Optional[str]:
    for cell in cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return (f"{output.get('ename')}: {output.get('evalue')} in cell:\n"
                        f"{cell.source[:300]}")
    return None


async def _run_chapter(page: str, timeout: int) -> ChapterRun:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    run = ChapterRun(page)
    notebook = published_notebook(page)
    published = len(notebook.cells)
    pairs = exercises(notebook)
    cwd = str(source_path(page).parent)
    # As jupyter-cache's single_nb_execution, which myst-nb's cache mode runs.
    client = NotebookClient(notebook, timeout=timeout, allow_errors=False, record_timing=False,
                            resources={"metadata": {"path": cwd}})
    started = time.perf_counter()
    try:
        async with client.async_setup_kernel():
            info = await client.async_wait_for_reply(await _ensure(client.kc.kernel_info()))
            notebook.metadata["language_info"] = info["content"]["language_info"]
            for index in range(published):
                await client.async_execute_cell(notebook.cells[index], index,
                                                execution_count=client.code_cells_executed + 1)
            client.set_widgets_metadata()
            run.published = copy.deepcopy(notebook)
            run.seconds = time.perf_counter() - started
            started = time.perf_counter()
            client.allow_errors = True  # every exercise gets its verdict
            for answer, check in pairs:
                cells = [nbformat.v4.new_code_cell(answer), nbformat.v4.new_code_cell(check)]
                for cell in cells:
                    notebook.cells.append(cell)
                    await client.async_execute_cell(cell, len(notebook.cells) - 1,
                                                    execution_count=client.code_cells_executed + 1)
                run.solved.append(tuple(cells))
            run.solutions_seconds = time.perf_counter() - started
    except (CellExecutionError, CellTimeoutError) as error:
        run.error = _error_of(notebook.cells[:published]) or f"{type(error).__name__}: {error}"
    if run.published is not None and len(run.published.cells) > published:
        run.published.cells = run.published.cells[:published]
    return run


async def _ensure(value):
    return await value if asyncio.iscoroutine(value) or asyncio.isfuture(value) else value


def run_chapters(pages: Iterable[str], parallel: int = PARALLEL) -> Dict[str, ChapterRun]:
    """{page: ChapterRun} for each page, ``parallel`` kernels at a time, with the build's
    cell timeout (``_config.yml`` execute.timeout)."""
    timeout = int((load_yaml("_config.yml").get("execute") or {}).get("timeout", 30))

    async def main():
        gate = asyncio.Semaphore(parallel)

        async def one(page):
            async with gate:
                return await _run_chapter(page, timeout)

        return await asyncio.gather(*(one(page) for page in pages))

    return {run.page: run for run in asyncio.run(main())}


def seed_cache(cache_path: Path, runs: Dict[str, ChapterRun]) -> Dict[str, str]:
    """Store each successfully executed published notebook in the jupyter-cache at
    ``cache_path`` (where the build will look: ``<path-output>/_build/.jupyter_cache``), as
    myst-nb's cache mode stores what it executed. Returns {page: hash key} of those stored."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_path))
    keys = {}
    for page, run in runs.items():
        if run.published is None:
            continue
        record = cache.cache_notebook_bundle(
            CacheBundleIn(run.published, str(source_path(page)),
                          data={"execution_seconds": run.seconds}),
            check_validity=False, overwrite=True)
        keys[page] = record.hashkey
    return keys


def cache_keys(cache_path: Path) -> List[str]:
    """The hash keys of every notebook in the jupyter-cache at ``cache_path``."""
    from jupyter_cache import get_cache

    return sorted(record.hashkey for record in get_cache(str(cache_path)).list_cache_records())


def check_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


__all__ = ["ChapterRun", "PARALLEL", "ROOT", "cache_keys", "check_text", "exercises",
           "has_exercises", "is_check", "published_notebook", "run_chapters", "seed_cache"]
