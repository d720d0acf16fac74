"""Helpers for the course's chapters: numbers computed in a cell, shown in the prose.

On the built site (Jupyter Book, which brings ``myst_nb``) :func:`glue` stores a value that
the prose shows with ``{glue:text}`name:format```; in plain Jupyter, Binder or Colab, where
``myst_nb`` may be missing, it does nothing, so the chapters run everywhere.
"""

from __future__ import annotations

from typing import Any

__all__ = ["glue"]


def glue(name: str, value: Any) -> None:
    """Make ``value`` available to the page's prose as ``name`` (no output in the cell).

    >>> glue("answer", 42)  # works with or without myst_nb
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Binder, Colab, plain Jupyter: the prose is not rendered there
        return
    myst_glue(name, value, display=False)
