"""The published notebooks (download, Colab) read correctly WITHOUT jupyterlab-myst.

book/_ext/plain_notebook.py rewrites each chapter's MyST Markdown for plain Jupyter and
Colab. Here every chapter is converted (with a stand-in for the book's link targets) and
rendered by nbconvert's HTML exporter, which, like Colab and plain Jupyter, knows CommonMark
and HTML only: no MyST directive or role may be left, every dropdown solution must sit
inside a closed ``<details>``, admonitions must be block quotes, and the appendix's
listings must hold the source they include. The slow tier checks the build's own published
notebooks (tests/test_live_notebooks.py).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
from plain_notebook import (  # noqa: E402
    Resolver, UnknownMyST, plain_markdown, plain_notebook, remaining_myst)

sys.path.insert(0, str(Path(__file__).parent))
from test_live_notebooks import CHAPTERS  # noqa: E402

SITE = "https://example.org/course/"


def fake_resolver(docname: str) -> Resolver:
    def doc(target):
        name = target.lstrip("/") if target.startswith("/") else \
            str(Path(docname).parent / target)
        name = name.removesuffix(".md")
        assert (ROOT / (name + ".md")).is_file(), f"{docname}: link to a missing page {target}"
        return f"Title of {name}", SITE + name + ".html"

    return Resolver(doc=doc, py=lambda name: SITE + "book/api.html#" + name,
                    ref=lambda label: (label, SITE + "#" + label),
                    source_dir=(ROOT / docname).parent, page=docname, site_url=SITE,
                    glue={})


def convert(docname: str):
    notebook = jupytext.read(ROOT / (docname + ".md"))
    return notebook, plain_notebook(notebook, fake_resolver(docname))


def html_of(notebook) -> BeautifulSoup:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="classic").from_notebook_node(notebook)
    return BeautifulSoup(body, "html.parser")


@pytest.mark.slow   # nbconvert renders every chapter: ~3 s each
@pytest.mark.parametrize("docname", CHAPTERS)
def test_chapter_as_a_plain_notebook(docname):
    source, plain = convert(docname)
    markdown = [cell.source for cell in plain.cells if cell.cell_type == "markdown"]
    left = [line for text in markdown for line in remaining_myst(text)]
    assert not left, f"{docname}: MyST left for plain Jupyter: {left[:5]}"
    assert [c.source for c in plain.cells if c.cell_type == "code"] == \
        [c.source for c in source.cells if c.cell_type == "code"], "code cells changed"
    text = "\n".join(markdown)
    original = "\n".join(c.source for c in source.cells if c.cell_type == "markdown")
    assert text.count("<details>") == original.count("{dropdown}")
    assert "{doc}" not in text and ".md)" not in text, "a link still points at a source file"

    soup = html_of(plain)
    # Every solution is folded: the text of each dropdown's code lies inside <details>.
    for cell in source.cells:
        if cell.cell_type != "markdown":
            continue
        for block in re.findall(r"\{dropdown\}[^\n]*\n(.*?)\n`{4}", cell.source, re.S):
            for code in re.findall(r"```\w*\n(.*?)\n```", block, re.S):
                first = code.strip().splitlines()[0].strip()
                holders = [pre for pre in soup.find_all(["pre", "code"])
                           if first in pre.get_text()   # in Markdown, not a code cell
                           and pre.find_parent(class_="text_cell_render") is not None]
                assert holders, f"{docname}: solution line {first!r} not in the HTML"
                for pre in holders:
                    assert pre.find_parent("details") is not None, \
                        f"{docname}: solution line {first!r} is shown unfolded"
    # Admonitions read as text, not as raw directive options.
    visible = soup.get_text()
    assert ":class:" not in visible and "{admonition}" not in visible
    if "{admonition} Learning outcomes" in original:
        quote = [q for q in soup.find_all("blockquote") if "Learning outcomes" in q.get_text()]
        assert quote and quote[0].find("strong"), "the learning outcomes are not a titled quote"


def test_solution_is_folded_and_roles_are_links():
    resolver = fake_resolver("book/02_spiking_neurons")
    text = plain_markdown(
        "See {doc}`03_training_snns`, [the basics](01_pytorch_basics.md#tensors) and "
        "{func}`snnlearn.backend.last_path`; keep `{doc}` in code.\n\n"
        "````{dropdown} Solution\n```python\nanswer = 42\n```\nBecause.\n````\n\n"
        "```{note}\nA note.\n```", resolver)
    assert f"[Title of book/03_training_snns]({SITE}book/03_training_snns.html)" in text
    assert f"[the basics]({SITE}book/01_pytorch_basics.html#tensors)" in text
    assert f"[`snnlearn.backend.last_path()`]({SITE}book/api.html#snnlearn.backend.last_path)" \
        in text
    assert "`{doc}` in code" in text
    assert "<details>\n<summary>Solution</summary>\n\n```python\nanswer = 42\n```" in text
    assert "> **Note**\n>\n> A note." in text


def test_literalinclude_and_glue():
    resolver = fake_resolver("book/appendix_c_kernels")
    resolver.glue = {"n": 1437, "acc": 0.9688}
    text = plain_markdown(
        "{glue:text}`n:,` images, {glue:text}`acc:.1%`\n\n"
        "```{literalinclude} ../snnlearn/functional/lif.py\n:language: python\n"
        ":pyobject: lif_feed_forward_step\n```", resolver)
    assert text.startswith("1,437 images, 96.9%")
    assert "```python\ndef lif_feed_forward_step(" in text
    assert text.rstrip().endswith("```")


def test_unknown_myst_is_an_error_not_raw_text():
    resolver = fake_resolver("book/02_spiking_neurons")
    with pytest.raises(UnknownMyST, match="mermaid"):
        plain_markdown("```{mermaid}\ngraph\n```", resolver)
    with pytest.raises(UnknownMyST, match="numref"):
        plain_markdown("see {numref}`fig`", resolver)
