"""The built course site as a learner sees it, in a real (headless) Chromium.

The built ``_build/html`` is served on localhost under the same path prefix as the
published site (``html.baseurl`` in ``_config.yml``, e.g. ``/snnlearn/`` on GitHub Pages),
so a link that only works at the server root fails here as it would there.

Checked, for every page in ``_toc.yml``: it loads; the browser reports no JavaScript error
and no failed request, apart from requests to the external hosts listed in
``EXPECTED_EXTERNAL`` (every request that leaves localhost is blocked, so the result is the
same with or without internet); every image has loaded and has real alt text; the
next/previous links walk the whole TOC in order; the search page finds "LIF"; chapter pages
offer the Binder and Live Code (Thebe) launch buttons for this repository and the page's
own source file; every page with math typesets it with the MathJax shipped in the build
(no raw TeX visible, no MathJax request off the site). A full-page screenshot of each page is saved next to the build
(``<build>/screenshots/``) for review.

The tests need Chromium at /usr/bin/chromium (Debian's ``chromium`` package; never
``playwright install``). Without it they skip, except under ``CI=true`` (or
``SNNLEARN_REQUIRE_BROWSER=1``), where a missing browser is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from paths import ROOT, is_notebook, load_yaml, source_of, toc_pages  # one reader of _toc.yml
CHROMIUM = os.environ.get("SNNLEARN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
]
HOW_TO_ENABLE = ("browser tests skipped: no Chromium at {path}; to enable them install "
                 "Debian's chromium: sudo apt-get install chromium")

# Hosts the site may contact and that fail offline (every request off localhost is
# blocked in these tests). A request to, or console error about, any other external host
# fails the page: add a host here only on purpose.
# Not here on purpose: cdn.jsdelivr.net and cdnjs.cloudflare.com (ipywidgets' embed manager
# and require.js: _config.yml's nb_ipywidgets_js is empty, a static page runs no widget) and
# any MathJax host (MathJax ships with the site).
EXPECTED_EXTERNAL = {
    "unpkg.com",              # Thebe, loaded when "Live Code" is pressed
    "mybinder.org",           # Binder, behind Live Code
    "fonts.googleapis.com",   # web fonts, if a theme asks for them
    "fonts.gstatic.com",
}

TIMEOUT_MS = 15_000
MAX_SCREENSHOT_HEIGHT = 12_000   # px; long pages are cut there (screenshots are slow)
VIEWPORT = {"width": 1280, "height": 900}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")


# --- what the site should contain, read from the book's configuration ------------------

_load_yaml = load_yaml
toc_docnames = toc_pages



def chapter_docnames() -> list[str]:
    """Pages that must offer Binder and Live Code: numbered chapters and all notebooks."""
    return [d for d in toc_docnames()
            if re.match(r"\d+_", Path(d).name) or is_notebook(d)]


def site_prefix() -> str:
    """The URL path the site is published under, '/snnlearn/' for the configured baseurl."""
    baseurl = (_load_yaml("_config.yml").get("html") or {}).get("baseurl") or "/"
    path = urlsplit(baseurl).path or "/"
    return path if path.endswith("/") else path + "/"


PAGES = toc_docnames()
CHAPTERS = chapter_docnames()


# --- fixtures: the browser, the local server ---------------------------------------------

def _browser_required() -> bool:
    return (os.environ.get("CI", "").lower() == "true"
            or os.environ.get("SNNLEARN_REQUIRE_BROWSER", "") not in ("", "0"))


def _browser_problem() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return HOW_TO_ENABLE.format(path=CHROMIUM)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return ("browser tests skipped: the playwright package is missing; "
                "install it with: pip install -r requirements-dev.txt")
    return None


# On a learner's machine without Chromium: one skip line for the whole file. Under CI the
# `browser` fixture fails instead.
if _browser_problem() and not _browser_required():
    pytest.skip(_browser_problem(), allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; fails when it is not installed (the module skips before that
    outside CI)."""
    problem = _browser_problem()
    if problem:
        if _browser_required():
            pytest.fail(problem.replace("skipped", "cannot run under CI")
                        + " (.ci/run installs it)", pytrace=False)
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            # No host but localhost resolves: the same result with or without internet.
            args=CHROMIUM_ARGS + ["--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"])
        try:
            yield chromium
        finally:
            chromium.close()


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the build under ``prefix`` only, like GitHub Pages serves a project site."""

    prefix = "/"

    def translate_path(self, path):
        clean = urlsplit(path).path
        if not clean.startswith(self.prefix):
            return str(Path(self.directory) / "__outside_the_site__" / "nothing")
        return super().translate_path("/" + clean[len(self.prefix):])

    def log_message(self, format, *args):  # noqa: A002 - keep pytest output clean
        pass


@pytest.fixture(scope="module")
def site(browser, built_book):
    """Base URL (ending in the site prefix) of the build, served on an ephemeral port."""
    prefix = site_prefix()
    handler_class = type("SiteHandler", (_SiteHandler,), {"prefix": prefix})
    handler = functools.partial(handler_class, directory=str(built_book))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{prefix}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _is_loopback(url: str) -> bool:
    split = urlsplit(url)
    return split.scheme not in ("http", "https", "ws", "wss") or \
        split.hostname in ("127.0.0.1", "localhost", "::1")


@pytest.fixture(scope="module")
def context(browser, site):
    """One browser context; every page load starts with empty storage, like a first visit."""
    ctx = browser.new_context(viewport=VIEWPORT, service_workers="block")
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.set_default_navigation_timeout(TIMEOUT_MS)
    ctx.add_init_script("try { localStorage.clear(); sessionStorage.clear(); } catch (e) {}")
    # Every request that leaves this machine is aborted by Playwright as well (the host
    # resolver rules above already fail them): what the tests see is the offline site.
    ctx.route(lambda url: not _is_loopback(url), lambda route: route.abort("blockedbyclient"))
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def screenshots(built_book) -> Path:
    folder = Path(built_book).parent / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Visit:
    """A browser tab that records console errors, page errors and failed requests."""

    def __init__(self, context, base: str):
        self.base = base
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
        self.page = context.new_page()
        self.external: list[str] = []      # requests that leave localhost (they fail)
        self.failed: list[str] = []        # failed requests and HTTP errors, any host
        self.errors: list[str] = []        # console errors and uncaught exceptions
        self.page.on("request", self._request)
        self.page.on("requestfailed", lambda req: self.failed.append(
            f"{req.url} ({req.failure})"))
        self.page.on("response", self._response)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"uncaught exception: {exc}"))

    def _request(self, request):
        if request.url.startswith(("http:", "https:")) and \
                not request.url.startswith(self.origin + "/"):
            self.external.append(request.url)

    def _response(self, response):
        if response.status >= 400:
            self.failed.append(f"{response.url} (HTTP {response.status})")

    def _console(self, message):
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            self.errors.append(f"console error: {message.text} [at {where}]")

    def goto(self, path: str):
        self.page.goto(self.base + path, wait_until="load")
        return self.page

    def start(self, path: str):
        """Starts loading ``path`` and returns at once (``loaded`` waits for it): the next
        page loads while this one is checked."""
        self.page.goto(self.base + path, wait_until="commit")
        return self

    def loaded(self):
        self.page.wait_for_load_state("load")
        return self.page

    def _browser_favicon(self, url: str) -> bool:
        # Chromium asks for /favicon.ico at the server root by itself when a page declares
        # no icon; whether that happens before the test ends is timing. Pages are checked
        # for a declared icon instead (test_page_loads_cleanly), so ignore it here.
        return urlsplit(url).path == "/favicon.ico" and url.startswith(self.origin)

    def unexpected_problems(self) -> list[str]:
        """What went wrong, except failures of requests to EXPECTED_EXTERNAL hosts."""
        problems = []
        for url in self.external:
            if urlsplit(url).hostname not in EXPECTED_EXTERNAL:
                problems.append(f"request to an unexpected external host: {url}")
        for failure in self.failed:
            url = failure.split(" ", 1)[0]
            if failure.endswith("(net::ERR_ABORTED)"):
                # Cancelled by the browser because the tab moved on to the next page
                # (a favicon or image still in flight when "next" is clicked). A file
                # that is really missing answers HTTP 404, recorded by _response.
                continue
            if urlsplit(url).hostname not in EXPECTED_EXTERNAL \
                    and not self._browser_favicon(url):
                problems.append(f"failed request: {failure}")
        for error in self.errors:
            where = re.search(r"\[at (\S*)\]$", error)
            url = where.group(1) if where else ""
            failed_load = "Failed to load resource" in error
            if failed_load and (urlsplit(url).hostname in EXPECTED_EXTERNAL
                                or self._browser_favicon(url)):
                continue
            problems.append(error)
        return problems

    def close(self):
        self.page.close()


@pytest.fixture
def visit(context, site):
    opened = []

    def open_visit():
        opened.append(Visit(context, site))
        return opened[-1]

    yield open_visit
    for one in opened:
        one.close()


def assert_clean(v: Visit, what: str):
    problems = v.unexpected_problems()
    assert not problems, f"{what}:\n  " + "\n  ".join(problems)


def docname_of(url: str, base: str) -> str:
    path = unquote(urlsplit(url).path)
    prefix = urlsplit(base).path
    assert path.startswith(prefix), f"{url} is outside the site {base}"
    return re.sub(r"\.html$", "", path[len(prefix):])


def _launch_config() -> tuple[str, str, str]:
    """(Binder URL up to the file path, 'org/name', branch), from _config.yml."""
    config = _load_yaml("_config.yml")
    repository = config["repository"]
    url = repository["url"].rstrip("/")
    assert url.startswith("https://github.com/"), f"repository.url is not on GitHub: {url}"
    org_repo = urlsplit(url).path.strip("/").removesuffix(".git")
    branch = repository.get("branch", "main")
    launch = config.get("launch_buttons") or {}
    hub = (launch.get("binderhub_url") or "https://mybinder.org").rstrip("/")
    interface = launch.get("notebook_interface", "classic")
    urlpath = "lab/tree/" if interface == "jupyterlab" else "tree/"
    return f"{hub}/v2/gh/{org_repo}/{branch}?urlpath={urlpath}", org_repo, branch


def check_images(page) -> list[str]:
    """Every <img> has loaded (naturalWidth > 0) and has alt text that describes it."""
    page.evaluate("for (const img of document.images) img.loading = 'eager'")
    page.wait_for_function("Array.from(document.images).every(img => img.complete)")
    images = page.evaluate("""Array.from(document.images).map(img => {
        const cell = img.closest('.cell');
        const code = cell && cell.querySelector('.cell_input pre');
        return {src: img.getAttribute('src') || '', url: img.currentSrc || img.src,
                alt: img.getAttribute('alt'), width: img.naturalWidth,
                cell: code ? code.textContent.trim().split('\\n')[0].slice(0, 70) : ''};
    })""")
    problems = []
    for img in images:
        if img["width"] <= 0 and urlsplit(img["url"]).hostname not in EXPECTED_EXTERNAL:
            problems.append(f"image did not load: {img['src']}")
        alt = (img["alt"] or "").strip()
        name = Path(urlsplit(img["src"]).path).name
        if not alt:
            problems.append(f"image without alt text: {img['src']}")
        elif alt == img["src"] or (name and alt.endswith(name)) \
                or alt.lower().endswith(IMAGE_SUFFIXES):
            # docutils (so myst-nb) sets alt to the image's own path when none is given,
            # e.g. for matplotlib output: alt="../_images/<hash>.png". That describes
            # nothing. Give the figure's code cell the metadata
            # `mystnb: {image: {alt: "what the figure shows"}}`.
            where = f" (output of the code cell starting {img['cell']!r})" if img["cell"] else ""
            problems.append(f"image alt text is just its file name: alt={alt!r}{where}")
    return problems


def check_launch_buttons(page, docname: str) -> list[str]:
    """Binder and Live Code buttons, for this repository and this page's source file."""
    binder_prefix, org_repo, branch = _launch_config()
    source = source_of(docname)
    if source is None:
        return [f"no source file for {docname} in the repository"]
    if not is_notebook(docname):
        return [f"{source.relative_to(ROOT)} is a chapter but not a notebook: give it "
                "Jupytext front matter with a kernelspec (it then runs and gets Binder "
                "and Live Code buttons)"]
    problems = []
    menu = page.locator(".dropdown-launch-buttons")
    if menu.count() != 1:
        return ["no launch-button menu (the rocket icon) in the page header"]
    menu.locator("button.dropdown-toggle").click()
    binder = menu.locator("a", has_text="Binder")
    live = menu.locator("button.btn-launch-thebe", has_text="Live Code")
    for name, button in (("Binder", binder), ("Live Code", live)):
        try:
            button.first.wait_for(state="visible", timeout=5_000)
        except Exception:  # noqa: BLE001 - reported below
            problems.append(f"no visible {name} button in the launch menu")
    if binder.count():
        expected = binder_prefix + source.relative_to(ROOT).as_posix()
        href = binder.first.get_attribute("href")
        if href != expected:
            problems.append(f"Binder link is {href!r}, expected {expected!r}")
    # Live Code asks Binder for the same repository and branch, in the page's folder.
    config = page.locator('script[type="text/x-thebe-config"]')
    text = config.first.text_content() if config.count() else ""
    folder = source.parent.relative_to(ROOT).as_posix()
    for key, value in (("repo", org_repo), ("ref", branch), ("path", f"./{folder}")):
        if not re.search(r'%s:\s*"%s"' % (key, re.escape(value)), text):
            problems.append(f'Thebe config lacks {key}: "{value}": {text.strip()!r}')
    return problems


# --- the tests ---------------------------------------------------------------------------

def test_toc_lists_pages():
    assert len(PAGES) >= 2, f"_toc.yml lists too few pages: {PAGES}"
    assert len(set(PAGES)) == len(PAGES), f"a page appears twice in _toc.yml: {PAGES}"
    missing = [d for d in PAGES if source_of(d) is None]
    assert not missing, f"_toc.yml names pages without a source file: {missing}"


def learner_view_problems(v: Visit, docname: str, screenshots: Path) -> list[str]:
    """The page as a learner sees it (loaded in ``v``): it is the page asked for, has a
    title and a favicon, its images load with alt text, chapters offer Binder/Live Code.
    Saves a full-page screenshot to <build>/screenshots/ for a reviewer."""
    page = v.page
    problems = []
    if docname_of(page.url, v.base) != docname:
        problems.append(f"ended up at {page.url}")
    if page.locator("article.bd-article h1").count() < 1:
        problems.append("the page has no title (h1)")
    if page.locator("link[rel~='icon']").count() == 0:
        problems.append("the page declares no favicon (browsers then fetch /favicon.ico, "
                        "get a 404 and log an error): set html.favicon in _config.yml")
    problems += check_images(page)

    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path=str(screenshots / (docname.replace("/", "__") + ".png")),
                    full_page=True, animations="disabled",
                    clip={"x": 0, "y": 0, "width": VIEWPORT["width"],
                          "height": min(height, MAX_SCREENSHOT_HEIGHT)})
    if docname in CHAPTERS:
        problems += check_launch_buttons(page, docname)
    return problems


@pytest.mark.slow  # drives Chromium over the built site
@pytest.mark.parametrize("docname", PAGES)
def test_page_as_a_learner_sees_it(docname, desktop_pass):
    """Loads without JS errors, images load with alt text, chapters offer Binder/Live Code
    (``learner_view_problems``, on the page's one load at desktop width)."""
    problems = desktop_pass.result(docname)["page"]
    assert not problems, f"{docname}.html:\n  " + "\n  ".join(problems)


@pytest.mark.slow  # drives Chromium over the built site
def test_site_root_leads_to_the_first_page(visit):
    v = visit()
    page = v.goto("")
    page.wait_for_url(re.compile(re.escape(v.base + PAGES[0] + ".html")))
    assert_clean(v, "the site root")


@pytest.mark.slow  # drives Chromium over the built site
def test_next_and_previous_links_follow_the_toc(visit):
    """Clicking "next" from the first page visits every TOC page in order and stops at the
    last; on each page "previous" points back to the page before."""
    v = visit()
    page = v.goto(PAGES[0] + ".html")
    walked, wrong_prev = [docname_of(page.url, v.base)], []
    for _ in range(len(PAGES) + 2):
        prev_link = page.locator("a.left-prev")
        here = len(walked) - 1
        if here == 0:
            if prev_link.count():
                wrong_prev.append(f"{walked[0]} (first page) has a previous link")
        elif not prev_link.count():
            wrong_prev.append(f"{walked[here]} has no previous link")
        else:
            target = docname_of(prev_link.first.evaluate("a => a.href"), v.base)
            if target != walked[here - 1]:
                wrong_prev.append(f"{walked[here]}: previous is {target}, "
                                  f"expected {walked[here - 1]}")
        next_link = page.locator("a.right-next")
        if next_link.count() == 0:
            break
        with page.expect_navigation(wait_until="load"):
            next_link.first.click()
        walked.append(docname_of(page.url, v.base))
    assert walked == PAGES, f"'next' walked {walked}, the TOC is {PAGES}"
    assert not wrong_prev, wrong_prev
    assert_clean(v, "walking the pages with next")


@pytest.mark.slow  # drives Chromium over the built site
def test_search_finds_lif(visit):
    v = visit()
    page = v.goto("search.html?q=LIF")
    results = page.locator("#search-results ul.search li a")
    results.first.wait_for(state="attached")
    hrefs = results.evaluate_all("els => els.map(e => e.href)")
    assert hrefs, "searching for LIF found nothing"
    pages = {docname_of(href, v.base) for href in hrefs}
    assert pages & set(PAGES), f"no search result is a course page: {sorted(pages)}"
    assert_clean(v, "search.html?q=LIF")


# --- math, rendered by the MathJax that ships with the site ---------------------------------

# Raw TeX that a reader must never see: $...$ (inline math not typeset), \frac, \begin{...}
# and other common commands. Checked in the visible text of the article, outside code.
RAW_TEX = re.compile(r"\$[^$\s][^$]*\$|\\(frac|begin\{|end\{|mathrm|tau|theta|sum|int|partial"
                     r"|cdot|left|right|text\{)")
VISIBLE_TEXT_JS = """() => {
    const skip = 'pre, code, script, style, mjx-container, .highlight, .MathJax';
    const article = document.querySelector('article.bd-article') || document.body;
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    const texts = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (!parent || parent.closest(skip)) continue;
        if (parent.checkVisibility && !parent.checkVisibility()) continue;
        texts.push(node.textContent);
    }
    return texts.join(' ');
}"""


def math_pages(built_book) -> list[str]:
    """Pages whose HTML holds math for MathJax (Sphinx marks it with class="math")."""
    return [d for d in PAGES
            if 'class="math' in (Path(built_book) / (d + ".html")).read_text(errors="replace")]


def wait_for_mathjax(page) -> str | None:
    """Waits until MathJax has typeset the page; returns why not, or None."""
    try:
        page.wait_for_function(
            "window.MathJax && MathJax.startup && MathJax.startup.promise"
            " && MathJax.startup.document && MathJax.startup.document.getMathItemsWithin"
            "(document.body).length > 0", timeout=TIMEOUT_MS)
        page.evaluate("MathJax.startup.promise")
    except Exception as error:  # noqa: BLE001 - reported by the caller
        return f"MathJax did not typeset the page ({error})"
    return None


def math_problems(v: Visit, docname: str, typeset_error: str | None,
                  screenshots: Path) -> list[str]:
    """The page (loaded in ``v``, MathJax waited for: ``typeset_error``) loads MathJax from
    the site itself and typesets every formula: MathJax's output elements are there, no raw
    TeX is left in the visible text, and no request leaves localhost for it."""
    page = v.page
    sources = page.locator("script[src*='mathjax']").evaluate_all("els => els.map(e => e.src)")
    if not sources or any(not src.startswith(v.origin + "/") for src in sources):
        return [f"{docname}: MathJax is not loaded from the site: {sources}"]
    problems = []
    if typeset_error:
        problems.append(f"{docname}: {typeset_error}")
    formulas = page.locator("article mjx-container").count()
    written = page.locator("article .math").count()
    if formulas == 0 or formulas < written:
        problems.append(f"{docname}: {formulas} typeset formulas for {written} math "
                        "elements in the page")
    text = page.evaluate(VISIBLE_TEXT_JS)
    raw = sorted({m.group(0)[:60] for m in RAW_TEX.finditer(text)})
    if raw:
        problems.append(f"{docname}: raw TeX visible: {raw[:8]}")
    mathjax_external = [u for u in v.external if "mathjax" in u.lower()]
    if mathjax_external:
        problems.append(f"{docname}: MathJax requests leave the site: {mathjax_external}")
    first = page.locator("article mjx-container").first
    if first.count():
        first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / (docname.replace("/", "__") + "__math.png")))
    return problems


@pytest.mark.slow  # drives Chromium over the built site
def test_math_renders_without_the_network(built_book, desktop_pass):
    """Every page with math loads MathJax from the site itself and typesets every formula:
    MathJax's output elements are there, no raw TeX is left in the visible text, and no
    request leaves localhost for it (all of them are blocked here). (``math_problems``, on
    the page's one load at desktop width.)"""
    pages = math_pages(built_book)
    assert pages, "no page of the book has math: is the check looking at the right build?"
    problems = [p for docname in pages for p in desktop_pass.result(docname)["math"]]
    assert not problems, "\n  ".join(["math without the network:"] + problems)


# --- nothing wider than the column: display equations at desktop and phone width -----------

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

# For every display equation in the article: it is clipped when its box sticks out of the
# article's column, when its content is wider than its box and the box does not scroll
# (overflow-x auto/scroll), or when an ancestor inside the column hides what sticks out.
EQUATION_OVERFLOW_JS = """() => {
    const column = document.querySelector('article.bd-article');
    const c = column.getBoundingClientRect();
    const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
    const problems = [];
    for (const m of column.querySelectorAll('mjx-container[display="true"]')) {
        if (!m.checkVisibility()) continue;
        const r = m.getBoundingClientRect();
        const tex = (m.querySelector('mjx-assistive-mml math') || m).textContent
            .replace(/\\s+/g, ' ').trim().slice(0, 50);
        let why = null;
        if (r.left < c.left - 1 || r.right > c.right + 1)
            why = `box ${Math.round(r.left)}..${Math.round(r.right)} px outside the column `
                  + `${Math.round(c.left)}..${Math.round(c.right)} px`;
        else if (m.scrollWidth > m.clientWidth + 1 && !scrolls(m))
            why = `${m.scrollWidth} px wide in a ${m.clientWidth} px box that does not scroll`;
        else if (m.scrollWidth > m.clientWidth + 1) {
            // It scrolls: its right end can be reached.
            const before = m.scrollLeft;
            m.scrollLeft = m.scrollWidth;
            if (m.scrollLeft + m.clientWidth < m.scrollWidth - 1)
                why = `scrolls only to ${m.scrollLeft + m.clientWidth} of ${m.scrollWidth} px`;
            m.scrollLeft = before;
        }
        if (!why) {
            for (let a = m.parentElement; a && a !== column; a = a.parentElement) {
                const ar = a.getBoundingClientRect();
                if (!scrolls(a) && getComputedStyle(a).overflowX !== 'visible'
                        && (r.right > ar.right + 1 || r.left < ar.left - 1)) {
                    why = `cut off by <${a.tagName.toLowerCase()} class="${a.className}">`;
                    break;
                }
            }
        }
        if (why) problems.push(`${tex}: ${why}`);
    }
    return problems;
}"""


def overflow_problems(page, docname: str, width: str, typeset_error: str | None,
                      shots: Path) -> tuple[int, list[str]]:
    """(display equations checked, problems) on the page (MathJax waited for:
    ``typeset_error``); saves a screenshot of its first display equation."""
    viewport = WIDTHS[width]
    if typeset_error:
        return 0, [f"{docname} at {viewport['width']} px: {typeset_error}"]
    checked = page.locator("article mjx-container[display='true']").count()
    problems = [f"{docname} at {viewport['width']} px: {p}"
                for p in page.evaluate(EQUATION_OVERFLOW_JS)]
    widest = page.locator("article mjx-container[display='true']")
    if widest.count():
        widest.first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"{docname.replace('/', '__')}__math_{width}.png"))
    return checked, problems


class DesktopPass:
    """Every page loaded once at desktop width, in the module's ``context``, and all the
    checks of that load done on it: the learner's view (``learner_view_problems``), and on
    pages with math ``math_problems`` and the desktop ``overflow_problems``. The next page of
    the TOC loads while one is checked. Results are kept per page for the tests that assert
    them; a page is visited when a test first asks for it."""

    def __init__(self, context, site: str, screenshots: Path, with_math: list[str]):
        self.context, self.site, self.screenshots = context, site, screenshots
        self.with_math = set(with_math)
        self.results: dict[str, dict] = {}
        self.loading: dict[str, Visit] = {}

    def _open(self, docname: str) -> Visit:
        if docname not in self.loading:
            self.loading[docname] = Visit(self.context, self.site).start(docname + ".html")
        return self.loading[docname]

    def result(self, docname: str) -> dict:
        if docname not in self.results:
            v = self._open(docname)
            later = PAGES[PAGES.index(docname) + 1:]
            following = next((d for d in later if d not in self.results), None)
            if following:
                self._open(following)
            del self.loading[docname]
            try:
                self.results[docname] = self._check(v, docname)
            except Exception as error:  # noqa: BLE001 - raised again in each test that asks
                self.results[docname] = {"error": error}
            finally:
                v.close()
        result = self.results[docname]
        if "error" in result:
            raise result["error"]
        return result

    def _check(self, v: Visit, docname: str) -> dict:
        v.loaded()
        result = {"math": [], "overflow": (0, [])}
        if docname in self.with_math:
            typeset_error = wait_for_mathjax(v.page)
            result["math"] = math_problems(v, docname, typeset_error, self.screenshots)
            result["overflow"] = overflow_problems(v.page, docname, "desktop", typeset_error,
                                                   self.screenshots)
        page_problems = learner_view_problems(v, docname, self.screenshots)
        visit_problems = v.unexpected_problems()
        result["page"] = visit_problems + page_problems
        if docname in self.with_math:
            result["math"] += [f"{docname}: {p}" for p in visit_problems]
        return result

    def close(self):
        for v in self.loading.values():
            v.close()


@pytest.fixture(scope="module")
def desktop_pass(context, site, screenshots, built_book):
    pages = DesktopPass(context, site, screenshots, math_pages(built_book))
    yield pages
    pages.close()


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_no_equation_overflows_its_column(built_book, browser, site, width, desktop_pass,
                                          screenshots):
    """Every display equation of every page with math fits its column or scrolls inside
    it (book/_static/snnlearn.css), at desktop and at phone width: none is clipped.
    Screenshots of the first wide-enough equation of each page: <build>/screenshots/.
    Desktop: on the pages' one load at desktop width (``DesktopPass``, the module's context
    has the desktop viewport); phone: each page loaded in a phone context, the next one
    loading while one is checked."""
    pages = math_pages(built_book)
    problems, checked = [], 0
    if width == "desktop":
        assert VIEWPORT == WIDTHS["desktop"]
        for docname in pages:
            count, found = desktop_pass.result(docname)["overflow"]
            checked += count
            problems += found
    else:
        context = browser.new_context(viewport=WIDTHS[width], service_workers="block",
                                      is_mobile=True, device_scale_factor=1)
        context.route(lambda url: not _is_loopback(url),
                      lambda route: route.abort("blockedbyclient"))
        context.set_default_timeout(TIMEOUT_MS)
        try:
            opened = [Visit(context, site).start(d + ".html") for d in pages[:1]]
            for index, docname in enumerate(pages):
                if index + 1 < len(pages):
                    opened.append(Visit(context, site).start(pages[index + 1] + ".html"))
                v = opened[index]
                page = v.loaded()
                count, found = overflow_problems(page, docname, width, wait_for_mathjax(page),
                                                 screenshots)
                checked += count
                problems += found
                v.close()
        finally:
            context.close()
    assert checked > 0, "no display equation was found: is the check looking at the right build?"
    assert not problems, "equations wider than their column:\n  " + "\n  ".join(problems)
