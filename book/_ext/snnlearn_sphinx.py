"""Local Sphinx tweaks for the snnlearn site (loaded from _config.yml: sphinx.local_extensions).

1. **No duplicated inline scripts.** Sphinx 7.4 (jupyter-book 1 pins sphinx~=7.0) writes
   every inline script that an extension registers after ``Builder.init()`` twice: once as
   ``_JavaScript(None, body=...)`` and once, copied from the registry, as
   ``_JavaScript('', body=...)``; the two compare unequal, so the page gets
   ``const THEBE_JS_URL = ...`` twice and the browser throws "Identifier 'THEBE_JS_URL'
   has already been declared" on every page. This drops the copy.
2. **Math without the network.** MathJax 3 ships with the site: the files of the
   ``django-static-mathjax`` wheel (MathJax 3.2.2's ``es5`` build; plain static files, no
   Django needed) are copied to ``_static/mathjax/`` and ``mathjax_path`` in ``_config.yml``
   points there, so formulas render from the site itself (offline, behind a firewall, on a
   slow CDN day).
3. **Every chapter as a notebook, for download and for Colab.** sphinx-book-theme copies
   the executed notebook of a MyST chapter to ``_sources/<page>.ipynb`` (the header's
   "Download .ipynb"). This puts the same notebook beside the page (``<page>.ipynb`` next
   to ``<page>.html``), both with one first cell that installs the course library when,
   and only when, it runs on Google Colab (:func:`colab_install_cell`), and adds a "Colab"
   entry to the launch menu. Colab opens notebooks from GitHub only, so the link points at
   the branch ``snnlearn_notebooks_branch`` (``notebooks``), into which the publish
   workflow (.github/workflows/publish.yml) commits these same files on every publish:
   ``https://colab.research.google.com/github/<org>/<repo>/blob/notebooks/<page>.ipynb``.
   The chapters' sources stay MyST text; no generated notebook is committed to ``main``.
   The published notebook is written for readers WITHOUT jupyterlab-myst (Colab, plain
   Jupyter): ``plain_notebook.py`` folds the dropdown solutions into ``<details>``, turns
   admonitions into block quotes, roles and chapter links into links to the site, and
   inlines ``literalinclude`` listings; MyST it cannot express fails the build.
5. **The site's CSS** (``book/_static/snnlearn.css``): display math and long output lines
   scroll inside the column instead of being clipped, output tables are styled, figures
   keep a readable size on phones.
6. **Live Code against a local Jupyter server, offline (tests only).** The published site's
   Live Code asks Binder for a kernel and loads Thebe from a CDN. With
   ``snnlearn_thebe_local = {"lib": <thebe's lib/ folder from the npm package>,
   "requirejs": <require.js from the requirejs npm package>,
   "base_url": "http://127.0.0.1:<port>", "token": <token>}`` (tests/test_live_code.py
   sets it) the build copies Thebe and require.js into ``_static/thebe/``, loads Thebe from
   there, and points it at that Jupyter server instead of Binder. Thebe 0.9's widget
   manager fetches require.js from a hard-coded CDN URL before it renders any widget
   (even ipywidgets' own): in this mode that one URL is fetched from the build instead.
   Thebe typesets math in outputs and widgets with MathJax 2 (from a CDN by default): an
   optional ``"mathjax2"`` folder (e.g. the jupyter-server-mathjax package's ``static/``)
   is copied to ``_static/thebe/mathjax2/`` and used instead.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

from sphinx.util import logging

sys.path.insert(0, str(Path(__file__).parent))
from plain_notebook import Resolver, UnknownMyST, plain_notebook  # noqa: E402

logger = logging.getLogger(__name__)

# The parts of MathJax's es5 build the site uses: the combined TeX+MathML -> CommonHTML
# bundle, the TeX extensions it autoloads (\require, \boldsymbol, ...), the CHTML fonts,
# and the context menu with its accessibility components. Not copied: the other combined
# bundles (SVG output, ...) and the speech-rule engine (sre, 4 MB), which loads only when a
# reader turns speech on in the menu.
MATHJAX_SUBDIR = "mathjax"
MATHJAX_PARTS = ("tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "adaptors",
                 "core.js", "loader.js", "startup.js")


def mathjax_es5_dir() -> Path:
    """MathJax's ``es5`` folder inside the installed ``django-static-mathjax`` wheel."""
    spec = importlib.util.find_spec("mathjax")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        es5 = Path(location) / "static" / "mathjax" / "es5"
        if (es5 / "tex-mml-chtml.js").is_file():
            return es5
    raise RuntimeError(
        "MathJax is not installed: the site ships its own math renderer from the "
        "django-static-mathjax package; install it with: pip install -r requirements.txt")


def _copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    if "://" in (app.config.mathjax_path or "") or not str(app.config.mathjax_path).startswith(
            MATHJAX_SUBDIR + "/"):
        return  # a CDN or another copy was configured on purpose
    es5 = mathjax_es5_dir()
    target = Path(app.outdir) / "_static" / MATHJAX_SUBDIR
    for part in MATHJAX_PARTS:
        source = es5 / part
        if source.is_dir():
            shutil.copytree(source, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / part)
    license_file = es5.parent / "LICENSE"
    if license_file.is_file():
        shutil.copy2(license_file, target / "LICENSE")
    missing = Path(app.config.mathjax_path).relative_to(MATHJAX_SUBDIR)
    if not (target / missing).is_file():
        raise RuntimeError(f"mathjax_path {app.config.mathjax_path} is not part of MathJax's "
                           f"es5 build in {es5}")


COLAB_URL = "https://colab.research.google.com"
COLAB_CELL_ID = "snnlearn-colab-install"


def github_repo(app) -> tuple[str, str] | None:
    """('org', 'repo') of the book's GitHub repository (``repository.url``), or None."""
    url = (app.config.html_theme_options or {}).get("repository_url", "") or ""
    if "github.com/" not in url:
        return None
    parts = url.split("github.com/", 1)[1].strip("/").removesuffix(".git").split("/")
    return (parts[0], parts[1]) if len(parts) >= 2 else None


def colab_install_cell(repository_url: str, branch: str):
    """The first code cell of every published notebook: on Colab (and only there) it
    installs snnlearn, with its C kernels when Colab's compiler builds them, from the
    book's repository, with the extras the chapters import (NIR in the next steps, Tonic's
    N-MNIST reader in chapter 6). Anywhere else (a laptop after ``make install``, Binder) it does
    nothing, so the same notebook runs everywhere."""
    import nbformat

    source = (
        "# Google Colab: install the course library snnlearn first (elsewhere, e.g. after\n"
        "# `make install` or on Binder, it is already installed and this cell does nothing).\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        "    import subprocess\n"
        "    subprocess.check_call([sys.executable, \"-m\", \"pip\", \"install\", \"--quiet\",\n"
        f"                           \"snnlearn[nir,tonic] @ git+{repository_url}@{branch}\"])\n"
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["colab-install"]})
    cell.id = COLAB_CELL_ID
    return cell


def book_resolver(app, pagename: str) -> Resolver:
    """What :func:`plain_notebook.plain_notebook` needs to turn the page's roles into links
    to the published site (``html.baseurl``): page titles, API anchors, labels."""
    import posixpath

    env = app.env
    site = (app.config.html_baseurl or "").rstrip("/") + "/"
    folder = posixpath.dirname(pagename)

    def doc(target: str) -> tuple[str, str]:
        name = target.strip()
        name = name[1:] if name.startswith("/") else posixpath.join(folder, name)
        name = posixpath.normpath(name).removesuffix(".md")
        if name not in env.titles:
            raise UnknownMyST(f"link to {target!r}: no such page")
        return env.titles[name].astext(), site + name + ".html"

    def py(name: str) -> str | None:
        entry = env.get_domain("py").objects.get(name)
        return f"{site}{entry.docname}.html#{entry.node_id}" if entry else None

    def ref(label: str) -> tuple[str, str]:
        std = env.get_domain("std")
        label = label.lower()
        if label in std.labels:             # a target before a title: it has a name
            docname, anchor, title = std.labels[label]
        elif label in std.anonlabels:       # any other target ({ref} gives the text)
            (docname, anchor), title = std.anonlabels[label], label
        else:
            raise UnknownMyST(f"{{ref}} to an unknown label {label!r}")
        return title, f"{site}{docname}.html#{anchor}"

    return Resolver(doc=doc, py=py, ref=ref, page=pagename, site_url=site,
                    source_dir=Path(env.doc2path(pagename)).parent)


def with_cached_outputs(app, notebook):
    """``notebook`` with its outputs. myst-nb (1.x) writes the executed notebook that the
    download button copies, but when the execution cache served the outputs it writes the
    notebook WITHOUT them (it saves its input, not the cache's merged copy): every rebuild
    from the cache would publish notebooks without outputs. Take them from the cache then."""
    if any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"):
        return notebook
    if getattr(app.config, "nb_execution_mode", "") != "cache":
        return notebook
    cache_path = (getattr(app.config, "nb_execution_cache_path", "")
                  or str(Path(app.outdir).parent / ".jupyter_cache"))   # jupyter-book's
    if not Path(cache_path).is_dir():
        return notebook
    from jupyter_cache import get_cache

    try:
        _, merged = get_cache(cache_path).merge_match_into_notebook(notebook)
    except KeyError:          # not in the cache: a notebook without outputs, as written
        return notebook
    return merged


def _publish_notebook(app, pagename, templatename, context, doctree):
    """Writes ``<page>.ipynb`` (beside the page and in ``_sources/``): Markdown that plain
    Jupyter and Colab render (:mod:`plain_notebook`: folded solutions, plain admonitions,
    roles as links to the site) and the Colab cell; adds the Colab button to the launch
    menu."""
    if app.builder.format != "html" or not context.get("ipynb_source"):
        return
    import nbformat

    outdir = Path(app.outdir)
    downloaded = outdir / "_sources" / context["ipynb_source"]
    if not downloaded.is_file():
        return
    repo = github_repo(app)
    options = app.config.html_theme_options or {}
    branch = options.get("repository_branch") or "main"
    notebook = with_cached_outputs(app, nbformat.read(downloaded, as_version=4))
    try:
        notebook = plain_notebook(notebook, book_resolver(app, pagename))
    except UnknownMyST as error:
        logger.warning(f"{pagename}: the published notebook cannot show this without "
                       f"jupyterlab-myst: {error}", location=pagename)
        return
    if repo and not any(cell.get("id") == COLAB_CELL_ID for cell in notebook.cells):
        url = f"https://github.com/{repo[0]}/{repo[1]}"
        notebook.cells.insert(0, colab_install_cell(url, branch))
    nbformat.validate(notebook)
    nbformat.write(notebook, downloaded)
    beside = outdir / (pagename + ".ipynb")
    beside.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, beside)

    notebooks_branch = app.config.snnlearn_notebooks_branch
    if not (repo and notebooks_branch):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            group["buttons"].insert(1 if group["buttons"] and
                                    group["buttons"][0].get("text") == "Binder" else 0, {
                "type": "link",
                "text": "Colab",
                "tooltip": "Launch on Colab",
                "icon": "_static/images/logo_colab.png",
                "url": f"{COLAB_URL}/github/{repo[0]}/{repo[1]}/blob/{notebooks_branch}/"
                       f"{pagename}.ipynb",
            })


THEBE_SUBDIR = "thebe"


def _thebe_local(app) -> dict | None:
    local = app.config.snnlearn_thebe_local
    if not local:
        return None
    missing = {"lib", "requirejs", "base_url", "token"} - set(local)
    if missing:
        raise ValueError(f"snnlearn_thebe_local lacks {sorted(missing)}")
    if not (Path(local["lib"]) / "index.js").is_file():
        raise ValueError(f"snnlearn_thebe_local: no index.js in {local['lib']}")
    return local


def _thebe_local_config(app, doctree, docname):
    """Replaces sphinx-thebe's Binder configuration by the local server's (tests only)."""
    from docutils import nodes

    local = _thebe_local(app)
    if local is None:
        return
    # A session path of the page's own (its source file: the kernel's working folder is that
    # file's folder, the chapter's): jupyter_server hands a second request for a session on
    # one path the first session's kernel, so one path for every page would run chapter N
    # on top of chapters 1..N-1's state.
    session_path = docname + ".md"
    config = {
        "requestKernel": True,
        "useBinder": False,
        "serverSettings": {"baseUrl": local["base_url"], "token": local["token"],
                           "appendToken": True},
        "kernelOptions": {"name": "python3", "path": session_path},
        "predefinedOutput": True,
        "mountActivateWidget": False,
        "mountStatusWidget": False,
    }
    if local.get("mathjax2"):
        config["mathjaxUrl"] = ("../" * docname.count("/")
                                + f"_static/{THEBE_SUBDIR}/mathjax2/MathJax.js")
    for raw in list(doctree.findall(nodes.raw)):
        if "text/x-thebe-config" in raw.astext():
            text = ('<script type="text/x-thebe-config">\n' + json.dumps(config, indent=2)
                    + "\n</script>\n")
            raw.replace_self(nodes.raw(text=text, format="html"))


# sphinx-thebe 0.3.1 calls ``thebelab.bootstrap()`` without options; Thebe 0.9 (the Thebe
# on the npm registry) then merges ``useBinder: true`` over the page's configuration. In
# local mode, wrap bootstrap as soon as Thebe defines ``window.thebelab`` so that it uses the
# page's server settings instead of Binder.
THEBE_REQUIREJS_CDN = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js"
THEBE_REQUIREJS_FROM_BUILD_JS = """;
(() => { const cdn = %s, local = new URL(%s, document.baseURI).href, fetch = window.fetch;
  window.fetch = (input, init) => fetch(String(input) === cdn ? local : input, init); })();"""
THEBE_NO_BINDER_JS = """;
Object.defineProperty(window, "thebelab", {configurable: true, get() { return undefined; },
  set(thebe) {
    const bootstrap = thebe.bootstrap;
    thebe.bootstrap = (options = {}) => bootstrap(Object.assign({}, options, {useBinder: false, requestKernel: true}));
    Object.defineProperty(window, "thebelab", {value: thebe, writable: true, configurable: true});
  }});"""


def _thebe_local_script(app, pagename, templatename, context, doctree):
    """Loads the vendored Thebe (tests only)."""
    if _thebe_local(app) is None:
        return
    from sphinx.builders.html._assets import _JavaScript

    local_url = context["pathto"](f"_static/{THEBE_SUBDIR}/index.js", 1)
    scripts = context.get("script_files") or []
    for index, script in enumerate(scripts):
        body = (getattr(script, "attributes", {}) or {}).get("body", "")
        if "THEBE_JS_URL" in body:
            body = re.sub(r'const THEBE_JS_URL = "[^"]*"',
                          f'const THEBE_JS_URL = "{local_url}"', body) + THEBE_NO_BINDER_JS
            requirejs_url = context["pathto"](f"_static/{THEBE_SUBDIR}/require.min.js", 1)
            body += THEBE_REQUIREJS_FROM_BUILD_JS % (json.dumps(THEBE_REQUIREJS_CDN),
                                                     json.dumps(requirejs_url))
            attributes = dict(script.attributes, body=body)
            scripts[index] = _JavaScript(script.filename, priority=script.priority,
                                         **attributes)


def _copy_thebe(app, exception):
    local = _thebe_local(app)
    if exception is not None or local is None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / THEBE_SUBDIR
    shutil.copytree(local["lib"], target, ignore=shutil.ignore_patterns("*.map", "types"),
                    dirs_exist_ok=True)
    shutil.copy2(local["requirejs"], target / "require.min.js")
    if local.get("mathjax2"):
        shutil.copytree(local["mathjax2"], target / "mathjax2", dirs_exist_ok=True)


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


STATIC_DIR = Path(__file__).resolve().parents[1] / "_static"   # book/_static
SITE_CSS = "snnlearn.css"


def _add_static(app, config):
    """book/_static (the site's own CSS) joins the static files of every page."""
    if str(STATIC_DIR) not in map(str, config.html_static_path):
        config.html_static_path.append(str(STATIC_DIR))


def setup(app):
    app.connect("config-inited", _add_static)
    app.add_css_file(SITE_CSS)
    # Run last, after the themes have added their per-page scripts.
    app.connect("html-page-context", _dedupe_inline_scripts, priority=999)
    app.connect("build-finished", _copy_mathjax)
    # After sphinx-book-theme's launch and download buttons (priority 501).
    app.connect("html-page-context", _publish_notebook, priority=600)
    app.add_config_value("snnlearn_notebooks_branch", "notebooks", "html")
    # Tests only: Live Code against a local Jupyter server with a vendored Thebe.
    app.add_config_value("snnlearn_thebe_local", None, "html")
    app.connect("doctree-resolved", _thebe_local_config, priority=900)
    app.connect("html-page-context", _thebe_local_script, priority=998)
    app.connect("build-finished", _copy_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
