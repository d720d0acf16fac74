"""Live Code (Thebe) in a real browser, against a local Jupyter server, offline.

The published site's Live Code asks mybinder.org for a kernel and loads Thebe from a CDN.
Here the book is built with ``snnlearn_thebe_local`` (book/_ext/snnlearn_sphinx.py): Thebe
is vendored into the build from its npm package (thebe 0.9.3 and requirejs 2.3.6, by
``npm pack`` into ~/.cache/snnlearn; or ``SNNLEARN_THEBE_PACKAGE`` and
``SNNLEARN_REQUIREJS_PACKAGE`` = the unpacked packages; MathJax 2, with which Thebe
typesets outputs, from the jupyter-server-mathjax package) and pointed at a Jupyter server this test
starts on 127.0.0.1 with a random token, that accepts only the site's origin. The build
does not execute the chapters (quick, and so every output seen comes from the live kernel).
Every request that leaves 127.0.0.1 is aborted.

For each notebook chapter: press Live Code in the launch menu, wait for the kernel, press
each cell's "run" button in order until the page has shown a text output and a figure
computed by the kernel (chapter 2: until its input-current slider, then move the slider and
see the figure change), with no error output and no request off this machine.
Screenshots: ``<build>/screenshots/live_code__<chapter>.png``.

Time: each cell is over when Thebe's own run of it is (its execute promise), not after a
fixed sleep; the next chapter's page loads, and its Live Code is pressed, while the current
chapter runs. A ``[time]`` line per chapter (shown with ``-rA`` or ``-s``) says where it went.

Each chapter's Live Code gets a kernel of its own, as a learner who opens that page first:
the build gives each page its own session path (its source file, so the kernel still works
in the chapter's folder); jupyter_server answers a request for a session on a path that
already has one with that session's kernel, so one path for all pages (the folder, as
before) ran chapter N on top of chapters 1..N-1's state. The test asserts no kernel is
used by two chapters.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from live_helpers import (  # noqa: E402
    BIN, CHROMIUM, CHROMIUM_ARGS, ROOT, JupyterServer, Phases, browser_problem, free_port,
    is_loopback, notebook_chapters, skip_or_fail)

THEBE_VERSION = "0.9.3"      # the Thebe on the npm registry (sphinx-thebe's CDN: 0.8.2)
REQUIREJS_VERSION = "2.3.6"  # the version Thebe 0.9 fetches from its CDN
CHAPTERS = notebook_chapters()
SLIDER_CHAPTER_MARK = "FloatSlider"     # the chapter whose slider cell is moved
MAX_CELLS = 25                          # cells run per chapter at most
CELL_TIMEOUT_MS = 90_000
# Known and harmless: Thebe 0.9.3's MathJax 2 typesetter appends a literal "&amp;" to
# MathJax's URL, so MathJax never finishes configuring its TeX input, and the queued
# resetEquationNumbers throws when a widget or output asks for typesetting (chapter 2's
# slider does). Outputs and widgets still render and update; math inside live outputs stays
# untypeset. Any other uncaught exception fails the test.
# {chapter: the id of the kernel its Live Code ran in}: each chapter's must be its own.
KERNELS_SEEN: dict = {}
KNOWN_THEBE_ERRORS = ("reading 'resetEquationNumbers'",)


def npm_package(cache: Path, spec: str, env: str) -> Path:
    """The unpacked npm package ``spec`` (``name@version``): from the folder in the
    environment variable ``env`` if set, else ``npm pack`` into ``cache`` (once)."""
    given = os.environ.get(env)
    if given:
        return Path(given)
    target = cache / spec.replace("@", "-")
    if (target / "package" / "package.json").is_file():
        return target / "package"
    npm = shutil.which("npm")
    if not npm:
        skip_or_fail(f"npm is needed to fetch {spec} for the Live Code test "
                     f"(or set {env} to the unpacked package)")
    target.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "pack", spec, "--silent"], cwd=target,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        skip_or_fail(f"npm pack {spec} failed: {result.stderr[-500:]}")
    with tarfile.open(target / result.stdout.strip().splitlines()[-1]) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture(scope="module")
def live_site(tmp_path_factory):
    """(site URL, build folder): the book built for Live Code against a local server."""
    problem = browser_problem()
    if problem:
        skip_or_fail(problem)
    try:
        import jupyter_server_mathjax  # MathJax 2 for Thebe's outputs, from the build
    except ImportError:
        skip_or_fail("jupyter-server-mathjax is missing (pip install -r requirements-dev.txt)")
    work = tmp_path_factory.mktemp("live_code")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "snnlearn"
    thebe = npm_package(cache, f"thebe@{THEBE_VERSION}", "SNNLEARN_THEBE_PACKAGE")
    requirejs = npm_package(cache, f"requirejs@{REQUIREJS_VERSION}", "SNNLEARN_REQUIREJS_PACKAGE")
    out = work / "out"
    html = out / "_build" / "html"
    html.mkdir(parents=True)
    site_port = free_port()
    site_origin = f"http://127.0.0.1:{site_port}"
    handler = functools.partial(_Quiet, directory=str(html))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", site_port), handler)
    site.daemon_threads = True
    threading.Thread(target=site.serve_forever, daemon=True).start()
    jupyter = JupyterServer("jupyter_server", ROOT, work / "jupyter.log",
                            allow_origin=site_origin)
    try:
        config = yaml.safe_load((ROOT / "_config.yml").read_text())
        config["execute"]["execute_notebooks"] = "off"
        config["sphinx"]["local_extensions"] = {
            name: str(ROOT / path) for name, path in config["sphinx"]["local_extensions"].items()}
        config["sphinx"]["config"]["snnlearn_thebe_local"] = {
            "lib": str(thebe / "lib"), "requirejs": str(requirejs / "require.js"),
            "mathjax2": str(Path(jupyter_server_mathjax.__file__).parent / "static"),
            "base_url": jupyter.url, "token": jupyter.token}
        (work / "_config.yml").write_text(yaml.safe_dump(config))
        phases = Phases("Live Code site")
        result = subprocess.run(
            [str(BIN / "jupyter-book"), "build", str(ROOT), "--config", str(work / "_config.yml"),
             "--path-output", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            pytest.fail("the Live Code build failed:\n" + (result.stdout + result.stderr)[-4000:])
        phases.mark("build (chapters not executed)")
        jupyter.wait_ready()
        phases.mark("Jupyter server ready")
        phases.report()
        yield site_origin + "/", out / "_build"
    finally:
        jupyter.stop()
        site.shutdown()
        site.server_close()


@pytest.fixture(scope="module")
def browser(live_site):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class ChapterPage:
    """A chapter's page in a fresh browser context (its own storage, as a first visit),
    recording requests off this machine (all aborted) and uncaught exceptions from its first
    byte on. Opening does not wait for the page: the next chapter is opened, and its Live
    Code pressed (Thebe loads and connects to the kernel), while the current one runs
    (``LivePages``)."""

    def __init__(self, browser, base: str, docname: str):
        self.docname = docname
        self.context = browser.new_context(viewport={"width": 1280, "height": 900},
                                           service_workers="block")
        self.external, self.errors = [], []
        self.context.route(lambda url: not is_loopback(url),
                           lambda route: (self.external.append(route.request.url),
                                          route.abort("blockedbyclient")))
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught exception: {exc}"))
        self.page.goto(base + docname + ".html", wait_until="commit")
        self.live_code_pressed = False
        self.pressed_before_its_test = False

    def press_live_code(self, wait: bool = True) -> bool:
        """Press Live Code in the launch menu once the page has loaded; ``wait=False``: only
        if it has loaded already (returns whether Live Code has been pressed)."""
        if not self.live_code_pressed:
            if not wait and self.page.evaluate("document.readyState") != "complete":
                return False
            self.page.wait_for_load_state("load")
            self.page.locator(".dropdown-launch-buttons button.dropdown-toggle").click()
            self.page.locator(".dropdown-launch-buttons button.btn-launch-thebe").click()
            self.live_code_pressed = True
        return True

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def live_pages(browser, live_site):
    """Opens chapter pages (``open``) and hands them to their test (``take``); what was
    opened and never taken is closed at the end of the module."""
    base, _ = live_site
    pages = {}

    class LivePages:
        def open(self, docname: str) -> ChapterPage:
            if docname not in pages:
                pages[docname] = ChapterPage(browser, base, docname)
            return pages[docname]

        def take(self, docname: str) -> ChapterPage:
            page = self.open(docname)
            del pages[docname]
            page.pressed_before_its_test = page.live_code_pressed
            return page

    try:
        yield LivePages()
    finally:
        for page in pages.values():
            page.close()


def next_chapter(request) -> str | None:
    """The chapter of the next test of this function in the session (selection and order
    as pytest runs them), or None."""
    items = request.session.items
    here = items.index(request.node)
    for item in items[here + 1:]:
        if getattr(item, "originalname", None) == request.node.originalname \
                and item.module is request.node.module:
            return item.callspec.params["docname"]
    return None


# An exception's traceback (IPython writes "Traceback" in it); an error a chapter prints on
# purpose goes to stdout and is not one.
ERROR_OUTPUT_JS = """cell => Array.from(cell.querySelectorAll('.thebe-output [data-mime-type]'))
    .filter(e => e.getAttribute('data-mime-type') === 'application/vnd.jupyter.error'
                 || (e.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr'
                     && /Traceback/.test(e.textContent || '')))
    .map(e => (e.textContent || '').slice(0, 400))"""
TEXT_OUTPUT_JS = """cell => Array.from(cell.querySelectorAll('.thebe-output pre'))
    .map(e => e.textContent.trim()).filter(t => t.length > 0)"""


# Thebe's run button calls ``cell.execute(cell.source)`` on the notebook's cell object (Thebe
# 0.9, src/render.ts), and the promise settles when the kernel has answered and the outputs
# are in. Each cell's execute is wrapped once, so that a test waits for exactly that, with
# no fixed sleep. (Thebe's busy spinner is no signal here: it has no size on these pages, so
# Playwright never saw it "visible" and every cell cost a 1 s timeout.)
TRACK_RUNS_JS = """() => {
    const runs = window.snnlearnRuns = window.snnlearnRuns || {};
    for (const cell of window.thebe.notebook.cells) {
        if (cell.snnlearnTracked) continue;
        const execute = cell.execute.bind(cell);
        cell.execute = (...args) => {
            runs[cell.id] = 'running';
            return Promise.resolve(execute(...args)).finally(() => { runs[cell.id] = 'done'; });
        };
        cell.snnlearnTracked = true;
    }
    return window.thebe.notebook.cells.map(cell => cell.id);
}"""
RUN_DONE_JS = """id => window.snnlearnRuns[id] === 'done' && window.thebe.session
    && window.thebe.session.kernel && window.thebe.session.kernel.status === 'idle'"""
# What a cell shows after its run, in one call: error outputs, whether the cell is one that
# raises on purpose, text outputs, figures.
CELL_OUTCOME_JS = """cell => ({
    failed: (%s)(cell),
    expected_error: !!cell.closest('.tag_raises-exception'),
    text: (%s)(cell).length > 0,
    figure: cell.querySelectorAll('.thebe-output img').length > 0})"""


def run_cell(page, cell, cell_id: str):
    """Press the cell's run button and wait until Thebe's run of it is over and the kernel
    is idle."""
    cell.locator("button.thebe-run-button").click()
    page.wait_for_function(RUN_DONE_JS, arg=cell_id, timeout=CELL_TIMEOUT_MS)


def move_slider(page, cell) -> list[str]:
    """Types a new value into the slider's readout; returns problems (empty: the figure
    of the cell changed)."""
    image = cell.locator(".thebe-output img").first
    try:
        image.wait_for(state="visible", timeout=30_000)
    except Exception:  # noqa: BLE001
        return ["the slider cell shows no figure"]
    before = image.get_attribute("src")
    readout = cell.locator(".widget-readout").first
    if readout.count() == 0:
        return ["the slider cell shows no slider (no .widget-readout): widgets not rendered"]
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("0.12")
    page.keyboard.press("Enter")
    try:
        page.wait_for_function(
            "([cell, before]) => { const img = cell.querySelector('.thebe-output img');"
            " return img && img.getAttribute('src') !== before; }",
            arg=[cell.element_handle(), before], timeout=30_000)
    except Exception:  # noqa: BLE001
        return ["moving the slider did not change the figure"]
    return []


@pytest.mark.slow  # builds the site, runs a Jupyter server and Chromium
@pytest.mark.parametrize("docname", CHAPTERS)
def test_live_code_runs_the_chapter(docname, live_site, live_pages, request):
    base, build = live_site
    screenshots = build / "screenshots"
    screenshots.mkdir(exist_ok=True)
    phases = Phases(f"Live Code {docname}")
    chapter = live_pages.take(docname)
    following = next_chapter(request)
    if following:
        live_pages.open(following)  # loads while this chapter runs; Live Code pressed below
    page = chapter.page
    try:
        chapter.press_live_code()
        page.wait_for_function("window.thebe && window.thebe.session", timeout=60_000)
        phases.mark("page and kernel (opened " + ("during the previous chapter)"
                                                   if chapter.pressed_before_its_test else
                                                   "now)"))
        ids = page.evaluate(TRACK_RUNS_JS)
        kernel = page.evaluate("window.thebe.session.kernel.id")
        assert kernel not in KERNELS_SEEN.values(), (
            f"{docname} runs in the kernel of {next(d for d, k in KERNELS_SEEN.items() if k == kernel)}")
        KERNELS_SEEN[docname] = kernel
        phases.mark("kernel " + kernel[:8])
        cells = page.locator(".thebe-cell")
        count = cells.count()
        assert count > 0, "Live Code made no cell runnable"
        wants_slider = SLIDER_CHAPTER_MARK in (ROOT / (docname + ".md")).read_text()
        seen_text = seen_figure = False
        problems = []
        for index in range(min(count, MAX_CELLS)):
            cell = cells.nth(index)
            cell_id = cell.get_attribute("data-thebe-id")
            assert cell_id in ids, f"cell {index} ({cell_id}) is not one of Thebe's cells"
            source = cell.locator(".thebe-input").inner_text()
            run_cell(page, cell, cell_id)
            if following:  # the next chapter's Thebe starts while this one runs
                live_pages.open(following).press_live_code(wait=False)
            outcome = cell.evaluate(CELL_OUTCOME_JS % (ERROR_OUTPUT_JS, TEXT_OUTPUT_JS))
            if outcome["failed"] and not outcome["expected_error"]:
                problems.append(f"cell {index} failed: {outcome['failed'][0]}")
                break
            seen_text = seen_text or outcome["text"]
            seen_figure = seen_figure or outcome["figure"]
            if wants_slider and SLIDER_CHAPTER_MARK in source:
                problems += move_slider(page, cell)
                cell.scroll_into_view_if_needed()
                page.screenshot(path=str(screenshots / f"live_code__{Path(docname).name}"
                                                        "__slider.png"))
                wants_slider = False
            if seen_text and seen_figure and not wants_slider:
                break
        phases.mark(f"{index + 1} cells")
        cell.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"live_code__{Path(docname).name}.png"))
        phases.mark("screenshot")
        if not seen_text:
            problems.append("no text output from the kernel")
        if not seen_figure and docname != CHAPTERS[-1] or wants_slider:
            problems.append("no figure from the kernel" if not seen_figure
                            else "the slider cell was not reached")
        problems += [f"request off this machine: {url}" for url in chapter.external]
        problems += [e for e in chapter.errors if not any(k in e for k in KNOWN_THEBE_ERRORS)]
        assert not problems, f"Live Code on {docname}:\n  " + "\n  ".join(problems)
    finally:
        chapter.close()
        phases.report()
