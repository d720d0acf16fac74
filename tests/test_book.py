"""The course site: built with every chapter executed, checked in its HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["book/01_pytorch_basics", "book/02_spiking_neurons", "book/03_training_snns",
            "book/appendix_c_kernels"]
REPOSITORY = "snnlearn/snnlearn"


def toc_pages() -> list:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [chapter["file"] for chapter in part["chapters"]]
    return pages


def soup(html_root: Path, page: str) -> BeautifulSoup:
    return BeautifulSoup((html_root / f"{page}.html").read_text(encoding="utf-8"), "html.parser")


def test_toc_lists_every_chapter_and_the_config_is_safe():
    pages = toc_pages()
    for chapter in CHAPTERS + ["book/instructor_guide", "book/api"]:
        assert chapter in pages
    for page in pages:
        assert (ROOT / f"{page}.md").is_file(), page
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["only_build_toc_files"] is True
    excluded = " ".join(config["exclude_patterns"])
    for folder in ("exercises", "tests", ".*"):
        assert folder in excluded
    assert config["repository"]["url"] == f"https://github.com/{REPOSITORY}"
    assert config["launch_buttons"]["thebe"] is True and config["launch_buttons"]["binderhub_url"]
    assert config["sphinx"]["config"]["nb_execution_raise_on_error"] is True


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapters_are_executable_myst_notebooks(page):
    text = (ROOT / f"{page}.md").read_text()
    assert "format_name: myst" in text, "plain-markdown Jupytext files are silently not executed"
    assert "```{code-cell}" in text
    if page != "book/01_pytorch_basics":  # plain PyTorch before any neuron
        assert "import snnlearn" in text or "from snnlearn" in text


def test_every_toc_page_is_built(built_book):
    for page in toc_pages():
        assert (built_book / f"{page}.html").is_file(), f"{page}.html missing"
    assert (built_book / "index.html").is_file()


def exercise_blocks(begin: str, end: str) -> list:
    """The distinctive lines (40+ characters) of each begin/end block of the exercises."""
    blocks = []
    for source in sorted((ROOT / "exercises" / "source").glob("*/*.md")):
        text = source.read_text(encoding="utf-8")
        for block in re.findall(f"{begin}\\n(.*?){end}", text, re.S):
            lines = {line.strip() for line in block.splitlines() if len(line.strip()) >= 40}
            if lines:
                blocks.append(lines)
    return blocks


def test_nothing_private_is_published(built_book):
    assert not (built_book / "exercises").exists()
    assert not (built_book / "tests").exists()
    hidden = set().union(*exercise_blocks("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
    solutions = [lines for lines in exercise_blocks("### BEGIN SOLUTION", "### END SOLUTION")
                 if len(lines) >= 2]
    assert len(hidden) > 10 and solutions, "found no hidden tests or solutions"
    for html in built_book.rglob("*.html"):
        text = BeautifulSoup(html.read_text(encoding="utf-8", errors="replace"),
                             "html.parser").get_text()
        leaked = sorted(line for line in hidden if line in text)
        assert not leaked, f"{html} publishes hidden tests: {leaked[:3]}"
        for lines in solutions:  # a line may be common code; a whole solution may not
            assert not all(line in text for line in lines), f"{html} publishes {sorted(lines)}"
        if html.name != "instructor_guide.html":  # the guide shows the markers' syntax
            assert "BEGIN HIDDEN TESTS" not in text and "### BEGIN SOLUTION" not in text, html


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_has_figures_and_no_errors(built_book, page):
    document = soup(built_book, page)
    outputs = document.select("div.cell_output")
    assert outputs, "no executed cell outputs: was the chapter executed?"
    figures = [img for output in outputs for img in output.find_all("img")]
    assert figures, f"{page} has no rendered figure"
    for output in outputs:
        text = output.get_text()
        assert "Traceback" not in text, f"{page} shows a traceback:\n{text[:500]}"
        assert not output.select(".output.traceback, .output.error"), f"{page} has an error output"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_has_binder_and_live_code_buttons(built_book, page):
    document = soup(built_book, page)
    binder = [a["href"] for a in document.find_all("a", href=True) if "mybinder.org" in a["href"]]
    assert binder, "no Binder button"
    assert any(f"/v2/gh/{REPOSITORY}/" in href and f"{page}.md" in href for href in binder), binder
    assert document.select("button.btn-launch-thebe"), "no Live Code (Thebe) button"
    assert f"https://github.com/{REPOSITORY}" in str(document)


def test_landing_page_links_every_chapter(built_book):
    document = soup(built_book, "book/intro")
    main = document.select_one("main") or document
    links = {a["href"].split("#")[0] for a in main.find_all("a", href=True)}
    for page in toc_pages()[1:]:
        name = Path(page).name + ".html"
        assert any(link.endswith(name) for link in links), f"landing page does not link {page}"


def test_training_chapter_reports_its_accuracy(built_book):
    text = soup(built_book, "book/03_training_snns").get_text(" ")
    match = re.search(r"test accuracy[^0-9]{0,20}(\d{1,3}(?:\.\d+)?)\s*%", text, re.IGNORECASE)
    assert match, "the training chapter does not report a held-out test accuracy"
    assert float(match.group(1)) >= 95.0
