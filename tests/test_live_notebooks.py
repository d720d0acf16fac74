"""Each chapter is published as a notebook too: "Download .ipynb" and the Colab button.

The build (book/_ext/snnlearn_sphinx.py) writes ``<page>.ipynb`` beside every chapter's
``<page>.html`` and in ``_sources/`` (the header's download button), with a first cell that
installs snnlearn on Colab only. Colab opens notebooks from GitHub only: the Colab button
points at the branch ``snnlearn_notebooks_branch`` (``_config.yml``), into which the publish
workflow commits the build's notebooks. Checked here at the URL level, on the files of the
build, and by running the install cell with and without a (fake) Colab.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup

from paths import CONFIG as CONFIG_FILE, ROOT, course_chapters

CONFIG = yaml.safe_load(CONFIG_FILE.read_text())
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"
notebook_chapters = course_chapters  # the executed chapters, read from _toc.yml by paths.py


CHAPTERS = notebook_chapters()


def repo_parts() -> tuple[str, str, str]:
    url = CONFIG["repository"]["url"].rstrip("/")
    return url, urlsplit(url).path.strip("/"), CONFIG["repository"].get("branch", "main")


def notebooks_branch() -> str:
    return CONFIG["sphinx"]["config"]["snnlearn_notebooks_branch"]


def code_sources(notebook) -> list[str]:
    return [cell.source.strip() for cell in notebook.cells if cell.cell_type == "code"]


def test_there_are_notebook_chapters():
    assert len(CHAPTERS) >= 3, CHAPTERS


@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_notebook_is_published_beside_its_page(built_book, docname):
    html = Path(built_book)
    beside = html / (docname + ".ipynb")
    assert beside.is_file(), f"no {docname}.ipynb beside {docname}.html"
    notebook = nbformat.read(beside, as_version=4)
    nbformat.validate(notebook)
    first = notebook.cells[0]
    assert first.cell_type == "code" and "google.colab" in first.source, \
        "the first cell must install snnlearn on Colab"
    chapter = jupytext.read(ROOT / (docname + ".md"))
    assert code_sources(notebook)[1:] == code_sources(chapter), \
        "the notebook's code cells are not the chapter's"
    assert any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "the published notebook has no outputs: is it the executed one?"
    # The header's "Download .ipynb" serves the same file.
    download = html / "_sources" / (docname + ".ipynb")
    assert download.read_bytes() == beside.read_bytes()


@pytest.mark.parametrize("docname", CHAPTERS)
def test_page_links_download_and_colab(built_book, docname):
    page = Path(built_book) / (docname + ".html")
    soup = BeautifulSoup(page.read_text(), "html.parser")
    hrefs = [a.get("href", "") for a in soup.find_all("a")]
    depth = docname.count("/")
    expected_download = "../" * depth + "_sources/" + docname + ".ipynb"
    assert expected_download in hrefs, f"no Download .ipynb link {expected_download!r}"
    _, org_repo, _ = repo_parts()
    colab = (f"https://colab.research.google.com/github/{org_repo}/blob/"
             f"{notebooks_branch()}/{docname}.ipynb")
    assert colab in hrefs, f"no Colab link {colab!r} in {docname}.html"


@pytest.mark.parametrize("docname", CHAPTERS)
def test_published_notebook_reads_without_jupyterlab_myst(built_book, docname):
    """The build's published notebook (download and Colab) is plain Markdown + HTML: no
    MyST directive or role, every dropdown solution folded in <details>, links to other
    chapters point at their pages on the site (which the build has), no static widget
    state. (tests/test_plain_notebooks.py renders the conversion with nbconvert.)"""
    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    from plain_notebook import remaining_myst

    html = Path(built_book)
    notebook = nbformat.read(html / (docname + ".ipynb"), as_version=4)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    left = [line for text in markdown for line in remaining_myst(text)]
    assert not left, f"raw MyST in the published {docname}.ipynb: {left[:5]}"
    text = "\n".join(markdown)
    source = (ROOT / (docname + ".md")).read_text()
    assert text.count("<details>") == source.count("{dropdown}") > 0 or \
        "{dropdown}" not in source
    site = CONFIG["html"]["baseurl"].rstrip("/") + "/"
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert not [link for link in links if re.search(r"\.md(#|$)", link)], \
        "a link points at a chapter's source file"
    for link in links:
        if link.startswith(site):
            target = link[len(site):].split("#")[0]
            assert (html / target).is_file(), f"{docname}.ipynb links to {link}: not in the build"
    assert "widgets" not in notebook.metadata


def test_publish_workflow_commits_the_notebooks_to_the_colab_branch():
    """The Colab links resolve once published: the workflow pushes every ``.ipynb`` built
    beside a page, at the same path, to the notebooks branch, with write access granted to
    that job only."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    text = WORKFLOW.read_text()
    jobs = workflow["jobs"]
    pushing = [name for name, job in jobs.items()
               if any(f"push" in str(step.get("run", "")) and notebooks_branch()
                      in str(step.get("run", "")) for step in job.get("steps", []))]
    assert pushing, f"no job pushes to the {notebooks_branch()!r} branch"
    job = jobs[pushing[0]]
    assert (job.get("permissions") or {}).get("contents") == "write"
    assert (workflow.get("permissions") or {}).get("contents") in ("read", None)
    assert "_build/html" in text and "*.ipynb" in text


def _run_install_cell(source: str, on_colab: bool, monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda *a, **k: calls.append(a[0]))
    if on_colab:
        google = types.ModuleType("google")
        colab = types.ModuleType("google.colab")
        google.colab = colab
        monkeypatch.setitem(sys.modules, "google", google)
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<colab cell>", "exec"), {})
    return calls


def test_colab_cell_installs_snnlearn_on_colab_only(built_book, monkeypatch):
    notebook = nbformat.read(Path(built_book) / (CHAPTERS[0] + ".ipynb"), as_version=4)
    source = notebook.cells[0].source
    assert _run_install_cell(source, on_colab=False, monkeypatch=monkeypatch) == []
    calls = _run_install_cell(source, on_colab=True, monkeypatch=monkeypatch)
    url, _, branch = repo_parts()
    assert len(calls) == 1, calls
    assert calls[0][:4] == [sys.executable, "-m", "pip", "install"]
    assert f"snnlearn[nir,tonic] @ git+{url}@{branch}" in calls[0]


def test_math_renderer_ships_with_the_site(built_book):
    """Pages with math load MathJax from _static/mathjax/ of the build, not from a CDN."""
    html = Path(built_book)
    with_math = 0
    for page in html.rglob("*.html"):
        text = page.read_text(errors="replace")
        if 'class="math' not in text:
            continue
        with_math += 1
        soup = BeautifulSoup(text, "html.parser")
        sources = [s["src"] for s in soup.find_all("script", src=True) if "mathjax" in s["src"]]
        assert sources, f"{page.name}: has math but loads no MathJax"
        for src in sources:
            assert "://" not in src, f"{page.name}: MathJax from {src}"
            assert (page.parent / src.split("?")[0]).resolve().is_file(), src
    assert with_math >= 2, "fewer than two pages with math"
