"""The course site: built with every chapter executed, checked in its HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from paths import EXERCISES, course_chapters, toc_pages


def soup(html_root: Path, page: str) -> BeautifulSoup:
    return BeautifulSoup((html_root / f"{page}.html").read_text(encoding="utf-8"), "html.parser")


def exercise_blocks(begin: str, end: str) -> list:
    """The distinctive lines (40+ characters) of each begin/end block of the exercises."""
    blocks = []
    for source in sorted((EXERCISES / "source").glob("*/*.md")):
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


@pytest.mark.parametrize("page", course_chapters())
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
