"""No broken internal links or anchors in the built site.

Every ``href``/``src``/``srcset`` (and SVG ``xlink:href``) in every HTML page of the build
that points inside the site must name an existing file, and its ``#fragment`` must be an
``id`` (or ``<a name>``) in the target page. "Inside the site" means relative links,
root-absolute links (``/...``, resolved under the published prefix, e.g. ``/snnlearn/``, as
on GitHub Pages) and absolute links to the published ``html.baseurl``. Links to other hosts
are not fetched. The checker itself is tested on a small synthetic site first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

from bs4 import BeautifulSoup

from paths import load_yaml, toc_pages

LINK_ATTRIBUTES = ("href", "src", "xlink:href", "poster", "data", "action")
# Theme template fragments copied to _static verbatim (Jinja macros, never linked).
NOT_PAGES = ("_static/",)


def published_baseurl() -> str:
    config = load_yaml("_config.yml")
    baseurl = (config.get("html") or {}).get("baseurl") or "https://example.invalid/"
    return baseurl if baseurl.endswith("/") else baseurl + "/"


@dataclass
class LinkReport:
    pages: int = 0
    links: int = 0
    anchors: int = 0
    broken: list[str] = field(default_factory=list)


class SiteLinks:
    """Checks the internal links of a built HTML site in ``html_dir``."""

    def __init__(self, html_dir: Path, baseurl: str):
        self.html_dir = Path(html_dir)
        self.baseurl = baseurl
        split = urlsplit(baseurl)
        self.base_host = split.netloc
        self.base_path = split.path if split.path.endswith("/") else split.path + "/"
        self._ids: dict[Path, set[str]] = {}

    def pages(self) -> list[Path]:
        return sorted(p for p in self.html_dir.rglob("*.html")
                      if not p.relative_to(self.html_dir).as_posix().startswith(NOT_PAGES))

    def parse(self, path: Path):
        soup = BeautifulSoup(path.read_text(errors="replace"), "html.parser")
        if path not in self._ids:
            ids = {tag["id"] for tag in soup.find_all(id=True)}
            ids |= {tag["name"] for tag in soup.find_all("a", attrs={"name": True})}
            self._ids[path] = ids
        return soup

    def ids_of(self, path: Path) -> set[str]:
        if path not in self._ids:
            self.parse(path)
        return self._ids[path]

    def urls_in(self, soup) -> list[tuple[str, str]]:
        """(description, url) for each link-like attribute in the page."""
        found = []
        for tag in soup.find_all(True):
            for attr in LINK_ATTRIBUTES:
                value = tag.get(attr)
                if isinstance(value, str) and value.strip():
                    found.append((f"<{tag.name} {attr}>", value.strip()))
            for attr in ("srcset", "imagesrcset"):
                value = tag.get(attr)
                if isinstance(value, str):
                    for candidate in value.split(","):
                        url = candidate.strip().split(" ")[0]
                        if url:
                            found.append((f"<{tag.name} {attr}>", url))
        return found

    def to_local(self, page: Path, url: str) -> tuple[str | None, str | None]:
        """(site-relative path, fragment) of ``url`` on ``page``; (None, None) if the link
        leaves the site, ("", None) if it is not a link to check (mailto:, data:, ...)."""
        split = urlsplit(url)
        if split.scheme and split.scheme not in ("http", "https"):
            return "", None  # mailto:, javascript:, data:, tel:, ...
        if split.netloc and split.netloc != self.base_host:
            return None, None  # another host (also //host/... links)
        page_url = self.baseurl + page.relative_to(self.html_dir).as_posix()
        absolute = urlsplit(urljoin(page_url, url))
        path = unquote(absolute.path)
        if not (path + "/").startswith(self.base_path) and path + "/" != self.base_path:
            return f"<outside the published site {self.base_path}>{path}", absolute.fragment
        return path[len(self.base_path):], unquote(absolute.fragment)

    def resolve(self, relative: str) -> Path | None:
        target = self.html_dir / PurePosixPath(relative)
        if relative == "" or relative.endswith("/") or target.is_dir():
            target = target / "index.html"
        return target if target.is_file() else None

    def check(self) -> LinkReport:
        report = LinkReport()
        for page in self.pages():
            report.pages += 1
            name = page.relative_to(self.html_dir).as_posix()
            soup = self.parse(page)
            for what, url in self.urls_in(soup):
                if re.search(r"\{\{.*\}\}|\{%", url):
                    report.broken.append(f"{name}: {what} {url!r} is an unrendered template")
                    continue
                relative, fragment = self.to_local(page, url)
                if relative is None or (relative == "" and fragment is None):
                    continue
                report.links += 1
                if relative.startswith("<outside"):
                    report.broken.append(f"{name}: {what} {url!r} leaves the site: {relative}")
                    continue
                target = self.resolve(relative)
                if target is None:
                    report.broken.append(f"{name}: {what} {url!r} -> missing file {relative!r}")
                    continue
                if fragment and target.suffix == ".html":
                    report.anchors += 1
                    if fragment not in self.ids_of(target):
                        target_name = target.relative_to(self.html_dir).as_posix()
                        report.broken.append(
                            f"{name}: {what} {url!r} -> no id {fragment!r} in {target_name}")
        return report


def test_checker_finds_broken_links_and_anchors(tmp_path):
    """The checker on a tiny site with known good and bad links."""
    (tmp_path / "book").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "x.css").write_text("")
    (tmp_path / "index.html").write_text('<a href="book/a.html">a</a>')
    (tmp_path / "book" / "a.html").write_text(
        '<h1 id="top">A</h1><a name="old"></a>'
        '<a href="#top">ok</a> <a href="a.html#old">ok</a> <a href="#">ok</a>'
        '<a href="../_static/x.css?v=1">ok</a> <a href="../">ok</a>'
        '<a href="https://other.example/x">external, not checked</a>'
        '<a href="mailto:a@b.c">not checked</a>'
        '<link rel="canonical" href="https://site.example/proj/book/a.html">'
        '<img src="../_images/missing.png" alt="x">'
        '<a href="#nowhere">bad anchor</a>'
        '<a href="b.html">missing page</a>'
        '<a href="/_static/x.css">outside /proj/</a>'
        '<a href="https://site.example/proj/book/a.html#gone">bad anchor, same site</a>'
        '<img srcset="../_static/x.css 1x, ../_static/y.png 2x" alt="x">')
    report = SiteLinks(tmp_path, "https://site.example/proj/").check()
    broken = "\n".join(report.broken)
    assert report.pages == 2
    for expected in ("missing.png", "#nowhere", "'b.html'", "leaves the site", "#gone",
                     "y.png"):
        assert expected in broken, f"{expected} not reported in:\n{broken}"
    assert len(report.broken) == 6, broken
    assert report.anchors == 4  # #top, #old, #nowhere, #gone


def test_no_broken_internal_links_or_anchors(built_book):
    report = SiteLinks(built_book, published_baseurl()).check()
    assert report.pages >= 3, f"only {report.pages} HTML pages in {built_book}"
    assert report.links > 0, "no internal links found: is the checker looking in the right place?"
    assert not report.broken, (
        f"{len(report.broken)} broken internal links/anchors "
        f"({report.pages} pages, {report.links} links, {report.anchors} anchors checked):\n  "
        + "\n  ".join(report.broken))


def test_every_toc_page_is_built(built_book):
    pages = toc_pages()
    missing = [page for page in pages if not (Path(built_book) / f"{page}.html").is_file()]
    assert not missing, f"TOC pages without HTML in the build: {missing}"
    index = (Path(built_book) / "index.html").read_text()
    assert re.search(r'url=%s\.html' % re.escape(pages[0]), index), \
        "index.html does not redirect to the root page of _toc.yml"


if __name__ == "__main__":  # pragma: no cover - manual use: python tests/test_site_links.py DIR
    import sys
    result = SiteLinks(Path(sys.argv[1]), published_baseurl()).check()
    print(f"{result.pages} pages, {result.links} links, {result.anchors} anchors")
    print("\n".join(result.broken) or "no broken links")
    sys.exit(1 if result.broken else 0)
