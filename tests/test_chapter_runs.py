"""tests/chapter_runs.py: one kernel per chapter, the published part kept for the book
build's cache, a chapter that fails never stored (so that the build runs it and fails)."""

from __future__ import annotations

import textwrap

import pytest

import chapter_runs
from paths import course_chapters

HEADER = textwrap.dedent("""\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      display_name: Python 3
      language: python
      name: python3
    ---
    """)
FENCE = "```"


def chapter(tmp_path, name, body) -> str:
    path = tmp_path / f"{name}.md"
    path.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return str(path)


GOOD = f"""
# A chapter

{FENCE}{{code-cell}} ipython3
x = None  # replace
{FENCE}

{FENCE}{{code-cell}} ipython3
# Check
print("✓ Right" if x == 2 else "Not solved yet")
{FENCE}

::::{{dropdown}} Solution
{FENCE}python
x = 1 + 1
{FENCE}
::::

{FENCE}{{code-cell}} ipython3
x = "later cells move on"
print(x)
{FENCE}
"""


@pytest.mark.slow
def test_published_part_is_kept_apart_from_the_solutions_and_cached(tmp_path):
    good = chapter(tmp_path, "good", GOOD)
    broken = chapter(tmp_path, "broken", GOOD.replace('x = "later', '1 / 0\nx = "later'))
    runs = chapter_runs.run_chapters([good, broken])
    run = runs[good]
    assert run.error is None and len(run.published.cells) == len(
        chapter_runs.published_notebook(good).cells)
    texts = [chapter_runs.check_text(c) for c in run.published.cells if c.cell_type == "code"]
    assert "Not solved yet" in texts[1] and "later cells move on" in texts[2]
    ((answer, check),) = run.solved
    assert "x = 1 + 1" in answer.source and "✓ Right" in chapter_runs.check_text(check)
    # A failing published cell: no published notebook, the error named; never cached.
    assert runs[broken].published is None and "ZeroDivisionError" in runs[broken].error
    keys = chapter_runs.seed_cache(tmp_path / "cache", runs)
    assert list(keys) == [good] and chapter_runs.cache_keys(tmp_path / "cache") == [keys[good]]


def test_every_chapter_is_read_as_the_build_reads_it():
    for page in course_chapters():
        notebook = chapter_runs.published_notebook(page)
        assert notebook.metadata.kernelspec.name == "python3", page
        assert any(c.cell_type == "code" for c in notebook.cells), page


def test_a_page_that_is_not_a_notebook_is_refused(tmp_path):
    plain = tmp_path / "plain.md"
    plain.write_text("# Just text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a notebook"):
        chapter_runs.published_notebook(str(plain))
