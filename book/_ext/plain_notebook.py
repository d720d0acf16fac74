"""MyST chapters as notebooks that read well WITHOUT jupyterlab-myst (download, Colab).

The chapters' Markdown cells are MyST: dropdown solutions, admonitions, ``{doc}`` and
``{func}`` roles, ``{glue:text}`` values, ``literalinclude`` listings. JupyterLab with
jupyterlab-myst renders most of it; plain Jupyter, nbconvert and Google Colab render
CommonMark + HTML only, and would show every solution in full, admonitions as raw
``:class: tip`` code and roles as raw text. :func:`plain_markdown` rewrites one Markdown
cell into what they all render:

* ``{dropdown}`` -> ``<details><summary>Title</summary> ... </details>`` (folded: a learner
  never sees a solution before trying);
* admonitions (``{admonition}``, ``{note}``, ``{tip}``, ...) -> a block quote with the title
  in bold;
* ``{literalinclude}`` -> a fenced code block with the included lines (``start-after``,
  ``start-at``, ``end-before``, ``end-at``, ``lines``, ``pyobject``, ``language``,
  ``caption``), read from the source tree at build time;
* ``{math}`` -> ``$$ ... $$``;
* roles: ``{doc}`` / ``{ref}`` -> links to the published page, ``{func}``, ``{class}``,
  ... -> links into the API page (or code when the object is not documented), ``{math}``
  -> ``$...$``, ``{glue:text}`` -> the value the chapter's cell glued, formatted;
* links to other chapters' sources (``[text](02_spiking_neurons.md)``) -> the site's page;
* MyST-only lines (targets ``(label)=``, ``%`` comments) are dropped.

Anything MyST that it does not know raises :class:`UnknownMyST` (the build then fails),
so a new directive never reaches a learner raw. No Sphinx import here: the Sphinx side
(``snnlearn_sphinx.py``) hands in a :class:`Resolver`.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ADMONITIONS = {"admonition", "note", "tip", "hint", "important", "warning", "caution",
               "attention", "danger", "error", "seealso"}
PY_ROLES = {"func", "class", "meth", "mod", "attr", "obj", "data", "exc", "py:func",
            "py:class", "py:meth", "py:mod", "py:attr", "py:obj", "py:data", "py:exc"}

OPENING = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}"
                     r"\s*(?P<argument>.*)$")
PLAIN_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
ROLE = re.compile(r"\{(?P<name>[\w:-]+)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks)")
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")
TARGET = re.compile(r"^\s*\([\w.:-]+\)=\s*$")
MD_LINK = re.compile(r"\]\((?P<path>(?![a-z]+:)[^)#\s]+)\.md(?P<anchor>#[^)\s]*)?\)")


class UnknownMyST(ValueError):
    """A MyST construct the plain-notebook conversion does not handle."""


@dataclass
class Resolver:
    """What a conversion needs from the book: all callables, so tests can fake them.

    ``doc(target) -> (title, url)``; ``py(name) -> url or None``; ``ref(label) -> (title,
    url)``; ``glue`` maps names to values; ``page`` is the chapter's docname (relative
    links are resolved from its folder); ``source_dir`` is the folder of its source file
    (``literalinclude`` paths are relative to it); ``site_url`` the published site.
    """

    doc: Callable[[str], tuple[str, str]]
    py: Callable[[str], str | None]
    ref: Callable[[str], tuple[str, str]]
    source_dir: Path
    page: str
    site_url: str
    glue: dict = field(default_factory=dict)


# --- block level --------------------------------------------------------------------------

def _closing(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the fence opened at ``start - 1`` (nested fences skipped)."""
    char, length = fence[0], len(fence)
    i = start
    while i < len(lines):
        line = lines[i].strip()
        if line and set(line) == {char} and len(line) >= length:
            return i
        nested = OPENING.match(lines[i]) or PLAIN_FENCE.match(lines[i])
        if nested and nested.group("fence")[0] == char and len(nested.group("fence")) < length \
                and (OPENING.match(lines[i]) or nested.group("info").strip()):
            i = _closing(lines, i + 1, nested.group("fence")) + 1
            continue
        i += 1
    raise UnknownMyST(f"unclosed {fence} block")


def _options(body: list[str]) -> tuple[dict, list[str]]:
    """Splits a directive body into its ``:key: value`` (or ``---`` YAML) options and content."""
    options: dict = {}
    if body and body[0].strip() == "---":
        end = body.index("---", 1) if "---" in body[1:] else None
        if end is None:
            raise UnknownMyST("unclosed --- options block")
        import yaml

        options = yaml.safe_load("\n".join(body[1:end])) or {}
        return options, body[end + 1:]
    i = 0
    while i < len(body):
        match = re.match(r"^:([\w-]+):\s*(.*)$", body[i])
        if not match:
            break
        options[match.group(1)] = match.group(2).strip()
        i += 1
    return options, body[i:]


def _quote(lines: list[str]) -> list[str]:
    return [("> " + line).rstrip() for line in lines]


def _strip_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _include(argument: str, options: dict, resolver: Resolver) -> list[str]:
    path = (resolver.source_dir / argument.strip()).resolve()
    if not path.is_file():
        raise UnknownMyST(f"literalinclude: no file {path}")
    text = path.read_text()
    known = {"language", "caption", "start-after", "start-at", "end-before", "end-at",
             "lines", "pyobject", "dedent", "name"}
    unknown = set(options) - known
    if unknown:
        raise UnknownMyST(f"literalinclude options not handled: {sorted(unknown)}")
    if "pyobject" in options:
        tree = ast.parse(text)
        wanted = options["pyobject"].split(".")
        nodes = tree.body
        found = None
        for part in wanted:
            found = next((n for n in nodes if getattr(n, "name", None) == part), None)
            if found is None:
                raise UnknownMyST(f"literalinclude: no {options['pyobject']} in {path}")
            nodes = getattr(found, "body", [])
        first = min([found.lineno] + [d.lineno for d in getattr(found, "decorator_list", [])])
        text = "\n".join(text.splitlines()[first - 1:found.end_lineno]) + "\n"
    if "lines" in options:
        all_lines = text.splitlines()
        keep = []
        for part in options["lines"].split(","):
            a, _, b = part.strip().partition("-")
            keep += all_lines[int(a) - 1:(int(b) if b else int(a))]
        text = "\n".join(keep) + "\n"
    for key in ("start-after", "start-at"):
        if key in options:
            at = text.find(options[key])
            if at < 0:
                raise UnknownMyST(f"literalinclude: {key} {options[key]!r} not in {path}")
            if key == "start-after":
                text = text[at + len(options[key]):]
                text = text.split("\n", 1)[1] if "\n" in text else ""
            else:
                text = text[text.rfind("\n", 0, at) + 1:]
    for key in ("end-before", "end-at"):
        if key in options:
            at = text.find(options[key])
            if at < 0:
                raise UnknownMyST(f"literalinclude: {key} {options[key]!r} not in {path}")
            if key == "end-before":
                text = text[:text.rfind("\n", 0, at) + 1]
            else:
                end = text.find("\n", at)
                text = text[:end + 1 if end >= 0 else len(text)]
    body = text.rstrip("\n").splitlines()
    longest = max([len(m) for m in re.findall(r"`{3,}", text)] + [2])
    fence = "`" * (longest + 1)
    out = []
    if options.get("caption"):
        out += [f"*{options['caption']}*", ""]
    return out + [fence + options.get("language", ""), *body, fence]


def _blocks(lines: list[str], resolver: Resolver) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        opening = OPENING.match(line)
        plain = PLAIN_FENCE.match(line) if not opening else None
        if opening:
            end = _closing(lines, i + 1, opening.group("fence"))
            name, argument = opening.group("name"), opening.group("argument").strip()
            options, content = _options(lines[i + 1:end])
            out += _directive(name, argument, options, content, resolver)
            i = end + 1
            continue
        if plain:
            end = _closing(lines, i + 1, plain.group("fence"))
            out += lines[i:end + 1]
            i = end + 1
            continue
        if TARGET.match(line) or re.match(r"^%", line):
            i += 1
            continue
        out.append(_inline(line, resolver))
        i += 1
    return out


def _directive(name, argument, options, content, resolver) -> list[str]:
    if name == "dropdown":
        title = _inline(argument or "Details", resolver)
        body = _strip_blank(_blocks(content, resolver))
        return ["<details>", f"<summary>{title}</summary>", "", *body, "", "</details>"]
    if name in ADMONITIONS:
        if name == "admonition":
            title = argument or "Note"
        else:
            title = name.capitalize() if name != "seealso" else "See also"
            if argument:
                content = [argument, ""] + content
        if "dropdown" in str(options.get("class", "")).split():
            return _directive("dropdown", title, {}, content, resolver)
        body = _strip_blank(_blocks(content, resolver))
        return _quote([f"**{_inline(title, resolver)}**", "", *body])
    if name == "literalinclude":
        return _include(argument, options, resolver)
    if name == "math":
        return ["$$", *_strip_blank(content), "$$"]
    if name in ("code-block", "code", "sourcecode"):
        return ["```" + argument, *content, "```"]
    raise UnknownMyST(f"directive {{{name}}} has no plain-notebook form "
                      "(book/_ext/plain_notebook.py)")


# --- inline -------------------------------------------------------------------------------

def _split_target(content: str) -> tuple[str | None, str]:
    match = re.match(r"^(.*?)\s*<([^<>]+)>$", content, re.S)
    return (match.group(1), match.group(2)) if match else (None, content)


def _glue_text(content: str, resolver: Resolver) -> str:
    name, _, spec = content.partition(":")
    if name not in resolver.glue:
        raise UnknownMyST(f"glue: no value glued as {name!r}")
    value = resolver.glue[name]
    return format(value, spec) if spec else str(value)


def _role(name: str, content: str, resolver: Resolver) -> str:
    if name == "doc":
        text, target = _split_target(content)
        title, url = resolver.doc(target)
        return f"[{text or title}]({url})"
    if name == "ref":
        text, target = _split_target(content)
        title, url = resolver.ref(target)
        return f"[{text or title}]({url})"
    if name in PY_ROLES:
        text, target = _split_target(content)
        short = target.startswith("~")
        target = target.lstrip("~.")
        shown = text or (target.rsplit(".", 1)[-1] if short else target)
        if name.endswith(("func", "meth")) and not text:
            shown += "()"
        url = resolver.py(target)
        return f"[`{shown}`]({url})" if url else f"`{shown}`"
    if name == "math":
        return f"${content}$"
    if name in ("glue:text", "glue"):
        return _glue_text(content, resolver)
    if name in ("sub", "sup"):
        return f"<{name}>{content}</{name}>"
    if name in ("kbd", "samp", "file", "command", "program", "envvar"):
        return f"`{content}`"
    if name in ("term", "abbr", "dfn"):
        return _split_target(content)[0] or content
    raise UnknownMyST(f"role {{{name}}} has no plain-notebook form (book/_ext/plain_notebook.py)")


def _md_link(match: re.Match, resolver: Resolver) -> str:
    target = str(Path(resolver.page).parent / match.group("path"))
    target = re.sub(r"(^|/)\./", r"\1", target)
    parts: list[str] = []
    for part in target.split("/"):
        if part == "..":
            parts = parts[:-1]
        elif part not in ("", "."):
            parts.append(part)
    _, url = resolver.doc("/" + "/".join(parts))
    return f"]({url}{match.group('anchor') or ''})"


def _inline(line: str, resolver: Resolver) -> str:
    # Roles, outside code spans (a code span may show a role's syntax on purpose).
    pieces, last = [], 0
    for code in CODE_SPAN.finditer(line):
        start = code.start()
        # A role's own backticks are part of the role, not a code span.
        if re.search(r"\{[\w:-]+\}$", line[:start]):
            continue
        pieces.append(("text", line[last:start]))
        pieces.append(("code", code.group(0)))
        last = code.end()
    pieces.append(("text", line[last:]))
    out = []
    for kind, piece in pieces:
        if kind == "text":
            piece = ROLE.sub(lambda m: _role(m.group("name"), m.group("content"), resolver),
                             piece)
            piece = MD_LINK.sub(lambda m: _md_link(m, resolver), piece)
        out.append(piece)
    return "".join(out)


def plain_markdown(source: str, resolver: Resolver) -> str:
    """One MyST Markdown cell as CommonMark + HTML (see the module's docstring)."""
    return "\n".join(_blocks(source.split("\n"), resolver))


# --- notebooks ----------------------------------------------------------------------------

def glued_values(notebook) -> dict:
    """The values a notebook's cells glued (myst-nb's ``glue``: outputs whose metadata
    carries ``scrapbook.name``), read back from their ``text/plain`` form."""
    values = {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            name = ((output.get("metadata") or {}).get("scrapbook") or {}).get("name")
            if not name:
                continue
            text = (output.get("data") or {}).get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            try:
                values[name] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                values[name] = text.strip("'\"")
    return values


def plain_notebook(notebook, resolver: Resolver):
    """A copy of ``notebook`` whose Markdown cells are plain (:func:`plain_markdown`), and
    without the static widget state (widgets need a live kernel there anyway)."""
    import copy

    notebook = copy.deepcopy(notebook)
    if not resolver.glue:
        resolver.glue = glued_values(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = plain_markdown(cell.source, resolver)
    notebook.metadata.pop("widgets", None)
    return notebook


def remaining_myst(markdown: str) -> list[str]:
    """MyST syntax left in converted Markdown (for tests): directive fences, roles,
    directive options."""
    problems = []
    for line in markdown.split("\n"):
        if OPENING.match(line) or re.match(r"^\s*>?\s*:[\w-]+:\s", line):
            problems.append(line)
    stripped = CODE_SPAN.sub("", re.sub(r"(?s)```.*?```", "", markdown))
    problems += [m.group(0) for m in re.finditer(r"\{[\w:-]+\}`", markdown)
                 if m.group(0) in stripped]
    return problems


if __name__ == "__main__":  # a quick look: python plain_notebook.py chapter.md
    import sys

    import jupytext

    chapter = Path(sys.argv[1])
    fake = Resolver(doc=lambda t: (t, f"https://example.org/{t.strip('/')}.html"),
                    py=lambda n: f"https://example.org/api.html#{n}",
                    ref=lambda t: (t, f"https://example.org/#{t}"),
                    source_dir=chapter.parent, page="book/" + chapter.stem,
                    site_url="https://example.org/")
    nb = plain_notebook(jupytext.read(chapter), fake)
    print(json.dumps([c.source for c in nb.cells if c.cell_type == "markdown"], indent=1))
