"""The chapters and an assignment in JupyterLab, as a learner opens them, in a real browser.

JupyterLab (with the learner environment's jupytext and jupyterlab-myst) runs on 127.0.0.1
with a random token, on a scratch copy of ``book/`` and of a released assignment. The
browser blocks every request that leaves 127.0.0.1.

- A chapter ``.md`` opens as a notebook (Jupytext: the default viewer for Markdown, as
  binder/postBuild sets it), "Run All Cells" runs it without an error output, and its MyST
  directives are rendered by jupyterlab-myst: the "Learning outcomes" admonition is a box,
  the exercise's solution is a closed dropdown, and no raw ``{admonition}``/``{dropdown}``
  directive text is visible.
- The released notebook of an assignment, completed as a learner would (each answer cell
  holds the reference solution), runs all cells without an error output.

Screenshots: ``<tmp>/screenshots/jupyterlab__*.png`` (the path is printed on failure).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from live_helpers import (  # noqa: E402
    CHROMIUM, CHROMIUM_ARGS, ROOT, JupyterServer, browser_problem, is_loopback,
    notebook_chapters, skip_or_fail)

ASSIGNMENT = "pytorch_basics"
RUN_TIMEOUT_MS = 180_000


def chapter_with_directives() -> str:
    """The first notebook chapter with both an admonition and a dropdown."""
    for docname in notebook_chapters():
        text = (ROOT / (docname + ".md")).read_text()
        if "{admonition}" in text and "{dropdown}" in text:
            return docname
    raise AssertionError("no chapter has both an admonition and a dropdown")


def completed_assignment(target: Path) -> Path:
    """The released notebook with each answer cell replaced by the source's solution."""
    release = nbformat.read(ROOT / "exercises" / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    source = nbformat.read(ROOT / "exercises" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    solutions = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution")}
    answered = 0
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions and cell.cell_type == "code":
            cell.source = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION\n?", "", solutions[grade_id])
            answered += 1
    assert answered >= 2, f"only {answered} answer cells found in {ASSIGNMENT}"
    path = target / f"{ASSIGNMENT}.ipynb"
    nbformat.write(release, path)
    return path


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(JupyterLab server, scratch folder)."""
    problem = browser_problem()
    if problem:
        skip_or_fail(problem)
    try:
        import jupyterlab_myst  # noqa: F401
        import jupytext  # noqa: F401
    except ImportError as error:
        skip_or_fail(f"{error.name} is missing (pip install -r requirements.txt)")
    work = tmp_path_factory.mktemp("jupyterlab")
    shutil.copytree(ROOT / "book", work / "book", ignore=shutil.ignore_patterns("_ext"))
    (work / "assignment").mkdir()
    completed_assignment(work / "assignment")
    # Learner settings: Markdown opens as a notebook (what binder/postBuild sets with
    # jupytext-config), no news fetched from the internet.
    settings = work / "settings"
    docmanager = settings / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps(
        {"defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}}))
    # Render every cell (JupyterLab 4 renders only the visible ones by default): the checks
    # below look at all of them.
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps(
        {"fetchNews": "false", "checkForUpdates": False}))
    import os
    os.environ["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    os.environ["JUPYTERLAB_WORKSPACES_DIR"] = str(work / "workspaces")
    server = JupyterServer("jupyterlab", work, work / "jupyterlab.log",
                           extra=["--LabApp.news_url=", "--LabApp.check_for_updates_class="
                                  "jupyterlab.NeverCheckForUpdate"])
    try:
        server.wait_ready()
        yield server, work
    finally:
        server.stop()
        os.environ.pop("JUPYTERLAB_SETTINGS_DIR", None)
        os.environ.pop("JUPYTERLAB_WORKSPACES_DIR", None)


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


PROMPTS_JS = """() => Array.from(document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt'))
    .map(e => e.textContent.trim())"""
ERRORS_JS = """() => Array.from(document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output'))
    .filter(e => e.getAttribute('data-mime-type') === 'application/vnd.jupyter.stderr'
                 && /Traceback|Error/.test(e.textContent))
    .map(e => e.textContent.slice(0, 400))"""


def open_and_run_all(browser, server, path: str, screenshot: Path):
    """Opens ``path`` in JupyterLab, runs all cells; returns (page, context, problems)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    external = []
    context.route(lambda url: not is_loopback(url),
                  lambda route: (external.append(route.request.url),
                                 route.abort("blockedbyclient")))
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{server.url}/lab/tree/{path}?token={server.token}&reset")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(state="visible", timeout=120_000)
    # The kernel is up when the status bar says Idle; then focus the notebook and run all.
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\|\s*Idle")).first.wait_for(
        timeout=120_000)
    started = "() => (" + PROMPTS_JS + ")().some(t => t !== '[ ]:')"
    for _ in range(3):
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).first.click()
        page.locator(".lm-Menu-item:not(.lm-mod-disabled)",
                     has_text=re.compile(r"^Run All Cells")).first.click()
        try:
            page.wait_for_function(started, timeout=15_000)
            break
        except Exception:  # noqa: BLE001 - the menu was not ready: try again
            page.keyboard.press("Escape")
    problems = []
    try:
        page.wait_for_function(
            "() => { const p = (" + PROMPTS_JS + ")(); return p.length > 0 &&"
            " p.every(t => /^\\[\\d+\\]:$/.test(t)); }", timeout=RUN_TIMEOUT_MS)
    except Exception:  # noqa: BLE001
        prompts = page.evaluate(PROMPTS_JS)
        problems.append(f"not every cell ran: prompts {prompts}")
    problems += [f"error output: {text}" for text in page.evaluate(ERRORS_JS)]
    page.screenshot(path=str(screenshot))
    problems += [f"request off this machine: {url}" for url in external]
    return page, context, problems


@pytest.mark.slow  # runs JupyterLab in Chromium
def test_chapter_opens_as_a_notebook_runs_and_renders_myst(lab, browser):
    server, work = lab
    docname = chapter_with_directives()
    screenshots = work / "screenshots"
    screenshots.mkdir(exist_ok=True)
    page, context, problems = open_and_run_all(
        browser, server, docname + ".md", screenshots / "jupyterlab__chapter_run.png")
    try:
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        if panel.locator(".jp-CodeCell").count() < 3:
            problems.append("the .md did not open as a notebook (fewer than 3 code cells)")
        rendered = panel.locator(".jp-MarkdownCell .jp-RenderedMarkdown, "
                                 ".jp-MarkdownCell .jp-RenderedMySTMarkdown, "
                                 ".jp-MarkdownCell .myst")
        text = " ".join(rendered.all_inner_texts())
        raw = sorted(set(re.findall(r"```\{\w+\}|:::\{?\w*\}?|\{(?:admonition|dropdown)\}",
                                    text)))
        if raw:
            problems.append(f"raw MyST directives visible in Markdown cells: {raw}")
        outcomes = panel.locator(".jp-MarkdownCell aside, .jp-MarkdownCell .admonition",
                                 has_text="Learning outcomes")
        if outcomes.count() == 0:
            problems.append("the 'Learning outcomes' admonition is not rendered as a box")
        else:
            outcomes.first.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshots / "jupyterlab__admonition.png"))
        dropdown = panel.locator(".jp-MarkdownCell details", has_text="Solution")
        if dropdown.count() == 0:
            problems.append("the solution dropdown is not rendered as a <details> element")
        elif dropdown.first.evaluate("d => d.open"):
            problems.append("the solution dropdown is open: the answer shows before trying")
        else:
            dropdown.first.scroll_into_view_if_needed()
            page.screenshot(path=str(screenshots / "jupyterlab__dropdown.png"))
        assert not problems, (f"{docname}.md in JupyterLab (screenshots in {screenshots}):\n  "
                              + "\n  ".join(problems))
    finally:
        context.close()


@pytest.mark.slow  # runs JupyterLab in Chromium
def test_completed_assignment_runs_in_jupyterlab(lab, browser):
    server, work = lab
    screenshots = work / "screenshots"
    screenshots.mkdir(exist_ok=True)
    page, context, problems = open_and_run_all(
        browser, server, f"assignment/{ASSIGNMENT}.ipynb",
        screenshots / "jupyterlab__assignment.png")
    try:
        assert not problems, (f"{ASSIGNMENT} in JupyterLab (screenshots in {screenshots}):\n  "
                              + "\n  ".join(problems))
    finally:
        context.close()


def chapter_linking_another() -> tuple[str, str]:
    """(docname, linked docname): the first chapter with a Markdown link to another one."""
    for docname in notebook_chapters():
        match = re.search(r"\]\((\w+)\.md\)", (ROOT / (docname + ".md")).read_text())
        if match:
            return docname, match.group(1)
    raise AssertionError("no chapter links another chapter with [text](other.md)")


@pytest.mark.slow  # runs JupyterLab in Chromium
def test_links_between_chapters_open_the_chapter_and_no_grading_menus(lab, browser):
    """A link to another chapter opens that chapter's file in JupyterLab (no 404 from
    /files/...), and the learner's Lab shows no nbgrader menus (Makefile: make install
    switches them off in the shared .venv)."""
    server, work = lab
    docname, target = chapter_linking_another()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.route(lambda url: not is_loopback(url), lambda route: route.abort("blockedbyclient"))
    missing = []
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    try:
        page.goto(f"{server.url}/lab/tree/{docname}.md?token={server.token}&reset")
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        panel.locator(".jp-Cell").first.wait_for(state="visible", timeout=120_000)
        menus = [m.strip() for m in page.locator(".lm-MenuBar-itemLabel").all_text_contents()]
        assert "File" in menus, menus
        assert not [m for m in menus if re.search(r"nbgrader|formgrader|assignment", m, re.I)], \
            f"grading menus in the learner's Lab: {menus}"
        link = panel.locator(f".jp-MarkdownCell a[href*='{target}.md']").first
        link.wait_for(state="attached", timeout=60_000)
        link.scroll_into_view_if_needed()
        link.click()
        tab = page.locator(".lm-TabBar-tabLabel", has_text=f"{target}.md")
        tab.first.wait_for(state="visible", timeout=60_000)
        assert not [url for url in missing if "/files/" in url or target in url], missing
    finally:
        context.close()
