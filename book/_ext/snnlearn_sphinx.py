"""Local Sphinx tweaks for the snnlearn site (loaded from _config.yml: sphinx.local_extensions).

Sphinx 7.4 (jupyter-book 1 pins sphinx~=7.0) writes every inline script that an extension
registers after ``Builder.init()`` twice: once as ``_JavaScript(None, body=...)`` and once,
copied from the registry, as ``_JavaScript('', body=...)``; the two compare unequal, so the
page gets ``const THEBE_JS_URL = ...`` twice and the browser throws
"Identifier 'THEBE_JS_URL' has already been declared" on every page. This drops the copy.
"""

from __future__ import annotations


def _dedupe_inline_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen = set()
    unique = []
    for script in scripts:
        filename = getattr(script, "filename", script) or ""
        attributes = getattr(script, "attributes", {}) or {}
        key = (str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    scripts[:] = unique


def setup(app):
    # Run last, after the themes have added their per-page scripts.
    app.connect("html-page-context", _dedupe_inline_scripts, priority=999)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
