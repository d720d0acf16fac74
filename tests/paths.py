"""Where things are in the repository, and the book's table of contents, for every test.

One place: a test that needs the chapters asks ``course_chapters()`` (read from
``_toc.yml``), never keeps its own list, so a new chapter is tested as soon as it is in the
table of contents. (pyproject.toml puts tests/ on pytest's ``pythonpath``: ``import paths``.)

>>> "book/01_pytorch_basics" in course_chapters()
True
>>> toc_pages()[0] == load_yaml("_toc.yml")["root"]
True
>>> load_module(EXERCISES / "build_sources.py") is load_module(EXERCISES / "build_sources.py")
True
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import List, Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
BOOK = ROOT / "book"
EXERCISES = ROOT / "exercises"
BINDER = ROOT / "binder"
TOC = ROOT / "_toc.yml"
CONFIG = ROOT / "_config.yml"
SOURCE_SUFFIXES = (".md", ".ipynb", ".rst")


def load_yaml(name: str) -> dict:
    """A YAML file of the repository (``"_toc.yml"``, ``"_config.yml"`` ...) as a dict."""
    return yaml.safe_load((ROOT / name).read_text()) or {}


def toc_pages() -> List[str]:
    """The pages of ``_toc.yml`` in reading order, root first, as paths without suffix
    (``"book/01_pytorch_basics"``); parts, chapters and nested sections included."""
    toc = load_yaml("_toc.yml")
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts") or []:
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    walk(toc.get("sections"))
    return [re.sub(r"\.(md|ipynb|rst)$", "", name).strip("/") for name in names]


def source_of(page: str) -> Optional[Path]:
    """The source file of a TOC page, or None when there is none."""
    for suffix in SOURCE_SUFFIXES:
        path = ROOT / (page + suffix)
        if path.is_file():
            return path
    return None


def is_notebook(page: str) -> bool:
    """True for pages the build executes: .ipynb, or MyST text whose front matter has a
    kernelspec (Jupytext)."""
    path = source_of(page)
    if path is None:
        return False
    if path.suffix == ".ipynb":
        return True
    match = re.match(r"---\n(.*?)\n---", path.read_text(encoding="utf-8"), re.S)
    return bool(match and "kernelspec" in (yaml.safe_load(match.group(1)) or {}))


def course_chapters() -> List[str]:
    """The executed chapters (notebooks) of the TOC, in reading order: the pages that must
    run, show figures and offer Binder/Live Code."""
    return [page for page in toc_pages() if is_notebook(page)]


def load_module(path: Path) -> ModuleType:
    """A repository file that is not in a package (``exercises/grading.py`` ...) imported as
    a module, once per session under one name (``_repo.exercises.grading``), so that every
    test sees, and patches, the same module object."""
    path = Path(path).resolve()
    name = "_repo." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]
