"""The course website (`make book`, docs/book.py), built once per session and read in headless Chromium.

Both editions are built into a throw-away folder from whatever notebooks are there now, served on a free
loopback port and opened in Debian's Chromium through Playwright (as tests/test_browser.py does; no browser is
downloaded). Every page is checked as a reader would see it: every lesson exists in both editions, MathJax typeset
every formula (its elements are there, no MathJax error, no raw ``$...$`` left in the text), every image loaded
(non-zero natural width) and the stored figures of the solution notebooks are all on the instructor pages, nothing
was fetched from outside the site, and the search page finds each lesson. The student edition must hold no answers
page, no nbgrader marker and no text of a solution, a hidden test, a written answer or a cell tagged ``results``;
the same texts are looked for on the instructor pages first, so the check can see them. Screenshots go to
``screenshots/book-*.png`` (git-ignored).

The Colab set-up cell of scripts/add_colab_cell.py is tested too: inserted once whatever the number of runs,
silent outside Colab, and on a simulated Colab it clones a repository made of this checkout's tracked files and
imports the kit and its shipped encoder from the clone (pip itself is not run: it would replace this venv's kit).

Set DCAI_BOOK_BUILT=build/book to check an existing `make book` output instead of building (when iterating).
"""

from __future__ import annotations

import functools
import html
import html.parser
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import nbformat
import pytest
from bs4 import BeautifulSoup
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "screenshots"
TIMEOUT_MS = 60_000  # per wait: a loaded machine may need long, a working page never waits that long
EDITIONS = ("instructor", "student")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


book = _load("book", ROOT / "docs" / "book.py")
colab = _load("add_colab_cell", ROOT / "scripts" / "add_colab_cell.py")

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason=f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` "
                                           "(as .ci/run does) to check the course website in a browser")


def _staged(site: Path, edition: str) -> Path:
    """The sources an edition was built from (docs/book.py stages them with the repository's paths): the
    notebooks as they were at build time, even if someone edits them while the tests run."""
    return site / "_staging" / edition


def _notebook(site: Path, stem: str, edition: str) -> nbformat.NotebookNode:
    return nbformat.read(_staged(site, edition) / book.lesson_path(stem, edition), 4)


def _course(site: Path) -> list[str]:
    """The course's lessons: its solution notebooks."""
    return sorted(p.stem for p in (_staged(site, "instructor") / "notebooks" / "solutions").glob("*.ipynb"))


# --------------------------------------------------------------------------- the build, the server, the browser


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """Both editions, built once: ``<site>/instructor/`` and ``<site>/student/``."""
    reuse = os.environ.get("DCAI_BOOK_BUILT")
    if reuse:
        return (ROOT / reuse).resolve()
    out = tmp_path_factory.mktemp("book")
    start = time.monotonic()
    results = book.build_all(out)
    print(f"\nbook built in {time.monotonic() - start:.0f} s: "
          + ", ".join(f"{e} {len(r['pages'])} pages" for e, r in results.items()))
    return out


def _html(site: Path, edition: str, page: str) -> BeautifulSoup:
    return BeautifulSoup((site / edition / page).read_text(encoding="utf-8"), "html.parser")


def _hrefs(site: Path, edition: str, page: str) -> list[str]:
    """Every link address of a page (a regular expression: parsing a long lesson page is slow)."""
    text = (site / edition / page).read_text(encoding="utf-8")
    return [html.unescape(h) for h in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', text)]


def _pages(site: Path, edition: str) -> list[str]:
    return sorted(p.relative_to(site / edition).as_posix() for p in (site / edition).rglob("*.html")
                  if not p.relative_to(site / edition).as_posix().startswith("_"))


def _lesson_page(stem: str, edition: str) -> str:
    return book.lesson_path(stem, edition).removesuffix(".ipynb") + ".html"


@pytest.fixture(scope="module")
def server(site):
    """The site on a free loopback port; yields its base address."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # no request log in the test output
        pass


class _Tab:
    """A browser page that refuses (and remembers) every request leaving the site, and remembers errors."""

    def __init__(self, browser, base: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.outside, self.failed, self.errors = [], [], []
        host = urlparse(base).netloc

        def route(r):
            url = urlparse(r.request.url)
            if url.scheme in ("data", "blob") or url.netloc == host:
                r.continue_()
            else:
                self.outside.append(r.request.url)
                r.abort()

        self.context.route("**/*", route)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def close(self):
        self.context.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"book-{name}.png"))


# --------------------------------------------------------------------------- the pages exist


def test_every_lesson_in_both_editions(site):
    course = _course(site)
    assert course, "no solution notebooks in notebooks/solutions/"
    for edition in EDITIONS:
        pages = set(_pages(site, edition))
        missing = [s for s in course if _lesson_page(s, edition) not in pages]
        assert not missing, (f"the {edition} edition has no page for {missing}"
                             + (" (their student notebooks are not released: run make release)"
                                if edition == "student" else ""))
        extra = [p for p in pages if p.startswith("notebooks/") and "/answers/" not in p
                 and Path(p).stem not in course]
        assert not extra, f"the {edition} edition has lesson pages without a solution notebook: {extra}"
        for page in ("index.html", "setup.html", "search.html"):
            assert page in pages, f"the {edition} edition has no {page}"
        # the sidebar of the home page links every lesson, in course order
        links = [a.get("href") for a in _html(site, edition, "index.html").select("nav.bd-links a")]
        lesson_links = [h for h in links if h and h.startswith("notebooks/") and "/answers/" not in h]
        assert lesson_links == [_lesson_page(s, edition) for s in course], (edition, lesson_links)


def test_build_has_no_warnings(site):
    """A warning is a broken link, an image or a cross-reference the site lacks, or Markdown the site cannot read."""
    for edition in EDITIONS:
        log = site / f"{edition}-warnings.txt"
        assert log.exists(), f"no warnings log for the {edition} edition"
        warnings = [line for line in log.read_text().splitlines() if "WARNING" in line or "ERROR" in line]
        assert not warnings, f"the {edition} edition's build warned:\n" + "\n".join(warnings[:20])


def test_answers_pages_only_in_the_instructor_edition(site):
    answers = sorted(p.stem for p in (_staged(site, "instructor") / "notebooks" / "answers").glob("*.md"))
    assert answers, "no answers pages in notebooks/answers/ (make release writes them)"
    instructor = {Path(p).stem for p in _pages(site, "instructor") if p.startswith("notebooks/answers/")}
    assert instructor == set(answers)
    assert "instructors.html" in _pages(site, "instructor")
    student = [p.relative_to(site / "student").as_posix() for p in (site / "student").rglob("*")]
    assert not [p for p in student if "answers" in p], "the student edition holds answers files"
    assert "instructors.html" not in student
    for page in _pages(site, "student"):
        hrefs = _hrefs(site, "student", page)
        assert not [h for h in hrefs if "answers/" in h and "://" not in h], f"{page} links an answers page"


def test_home_page_outline_comes_from_the_instructor_guide(site):
    course = _course(site)
    guide = book.section((_staged(site, "instructor") / "instructors.md").read_text(encoding="utf-8"),
                         book.OUTLINE_HEADING)
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in guide.splitlines()
            if line.startswith("|")][2:]
    guide_stems = [r[0].strip("` ") for r in rows]
    missing = [s for s in course if s not in guide_stems]
    assert not missing, f"INSTRUCTORS.md's course outline has no row for {missing}: the home page would miss them"
    times = [re.match(r"(\d+) min\b", r[1]) for r in rows]  # the guide gives each session in minutes
    assert all(times), [r[1] for r, m in zip(rows, times) if not m]
    minutes = sum(int(m.group(1)) for m in times)
    for edition in EDITIONS:
        home = _html(site, edition, "index.html")
        table = home.select_one("article table")
        assert table is not None, f"no outline table on the {edition} home page"
        body = table.select("tbody tr")
        assert len(body) == len(rows)
        for row, guide_row in zip(body, rows):
            cells = [" ".join(td.get_text("").split()) for td in row.select("td")]
            stem = guide_row[0].strip("` ")
            assert cells[0].startswith(stem), (cells[0], stem)
            assert cells[1] == guide_row[1], \
                f"{stem}: session time {cells[1]!r} on the site, {guide_row[1]!r} in the guide"
            objectives = " ".join(BeautifulSoup(guide_row[2].replace("`", ""), "html.parser").get_text().split())
            assert cells[2] == objectives, f"{stem}: the objectives differ from INSTRUCTORS.md's"
            link = row.select_one("td a")
            if stem in course:
                assert link is not None and link.get("href") == _lesson_page(stem, edition)
        assert f"{minutes // 60} h {minutes % 60:02d} min" in home.get_text(), "the total session time is missing"


# --------------------------------------------------------------------------- in the browser


def _check_page(tab: _Tab, site: Path, base: str, edition: str, page: str) -> dict:
    """Open a page; returns what was measured. Takes its screenshots."""
    formulas = len(re.findall(r'<(?:span|div) class="math\b', (site / edition / page).read_text(encoding="utf-8")))
    tab.page.goto(f"{base}/{edition}/{page}", wait_until="load")
    slug = page.removesuffix(".html").replace("/", "-")
    mathjax = True
    if formulas:
        try:
            tab.page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
            tab.page.evaluate("() => MathJax.startup.promise")  # resolves once the page is typeset
        except PlaywrightTimeout:
            mathjax = False
    # formulas are in the lesson and in its table of contents (headings with math): count them all
    measured = tab.page.evaluate("""() => {
        const untypeset = Array.from(document.querySelectorAll('span.math, div.math'))
            .filter(e => !e.querySelector('mjx-container')).map(e => e.textContent.slice(0, 80));
        const clone = document.querySelector('article').cloneNode(true);
        clone.querySelectorAll('pre, code, mjx-container, script, style, .highlight').forEach(e => e.remove());
        return {mjx: document.querySelectorAll('mjx-container').length,
                merror: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.textContent),
                untypeset, text: clone.innerText};
    }""")
    # every image: load it now (no lazy loading), then read its natural size
    tab.page.evaluate("() => document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
    tab.page.wait_for_function("() => Array.from(document.images).every(i => i.complete)")
    images = tab.page.evaluate("() => Array.from(document.querySelectorAll('article img'))"
                               ".map(i => ({src: i.getAttribute('src'), width: i.naturalWidth}))")
    measured.update(formulas=formulas, images=images, mathjax=mathjax)
    _shot(tab.page, f"{edition}-{slug}")
    if images and page.startswith("notebooks/"):
        tab.page.locator("article img").first.scroll_into_view_if_needed()
        _shot(tab.page, f"{edition}-{slug}-figure")
    if page == "index.html":
        tab.page.locator("article table").first.scroll_into_view_if_needed()
        _shot(tab.page, f"{edition}-index-outline")
    if edition == "instructor" and tab.page.locator("article .admonition.tip").count():  # a written answer, boxed
        tab.page.locator("article .admonition.tip").first.scroll_into_view_if_needed()
        _shot(tab.page, f"{edition}-{slug}-answer")
    if measured["mjx"] and page.startswith("notebooks/"):
        tab.page.locator("article mjx-container").first.scroll_into_view_if_needed()
        _shot(tab.page, f"{edition}-{slug}-formula")
    return measured


def _stored_images(site: Path, stem: str) -> int:
    nb = _notebook(site, stem, "instructor")
    return sum(1 for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if any(m in o.get("data", {}) for m in IMAGE_MIMES))


@needs_chromium
@pytest.mark.parametrize("edition", EDITIONS)
def test_pages_render_in_chromium(site, server, browser, edition):
    tab = _Tab(browser, server)
    problems, total_formulas, total_images = [], 0, 0
    try:
        for page in _pages(site, edition):
            if page in ("genindex.html", "search.html"):
                continue
            m = _check_page(tab, site, server, edition, page)
            total_formulas += m["formulas"]
            total_images += len(m["images"])
            if not m["mathjax"]:
                problems.append(f"{page}: MathJax did not start ({m['formulas']} formulas)")
            elif m["mjx"] < m["formulas"] or m["untypeset"]:
                problems.append(f"{page}: {m['formulas']} formulas, {m['mjx']} typeset; "
                                f"not typeset: {m['untypeset'][:3]}")
            if m["merror"]:
                problems.append(f"{page}: MathJax errors {m['merror'][:3]}")
            raw = re.findall(r"\$[^$\s][^$\n]{0,200}?\$|\\\(.{0,80}?\\\)", m["text"])
            if raw:
                problems.append(f"{page}: raw formulas left in the text: {raw[:3]}")
            broken = [i["src"] for i in m["images"] if not i["width"]]
            if broken:
                problems.append(f"{page}: images that did not load: {broken}")
            stem = Path(page).stem
            if edition == "instructor" and page.startswith("notebooks/solutions/"):
                stored = _stored_images(site, stem)
                if len(m["images"]) < stored:
                    problems.append(f"{page}: {len(m['images'])} images, but the notebook stores {stored} figures")
        assert not problems, "\n".join(problems)
        assert not tab.outside, f"pages asked for files outside the site: {sorted(set(tab.outside))[:10]}"
        assert not tab.failed, f"missing files: {tab.failed[:10]}"
        assert not tab.errors, f"JavaScript errors: {tab.errors[:5]}"
        # the course has formulas (MathJax ran on them), and the instructor edition shows the stored figures
        assert total_formulas > 0
        if edition == "instructor":
            assert total_images >= sum(_stored_images(site, s) for s in _course(site)) > 0
        else:  # the home page's badges are the site's own files
            assert total_images >= 2
    finally:
        tab.close()


def _search_words(site: Path, edition: str) -> dict[str, str]:
    """For each lesson of an edition, a word of its title that no other lesson's title has (the longest)."""
    folder = _staged(site, edition)
    titles = {s: book.lesson_title(folder / book.lesson_path(s, edition)) for s in _course(site)
              if (folder / book.lesson_path(s, edition)).exists()}  # a missing one: test_every_lesson_...
    words = {s: {w.lower() for w in re.findall(r"[A-Za-z]{4,}", t)} for s, t in titles.items()}
    chosen = {}
    for s, own in words.items():
        others = set().union(*(w for o, w in words.items() if o != s))
        unique = sorted(own - others, key=lambda w: (-len(w), w))
        chosen[s] = unique[0] if unique else max(own, key=len)
    return chosen


@needs_chromium
@pytest.mark.parametrize("edition", EDITIONS)
def test_search_finds_each_lesson(site, server, browser, edition):
    tab = _Tab(browser, server)
    try:
        words = _search_words(site, edition)
        assert words
        for stem, word in words.items():
            tab.page.goto(f"{server}/{edition}/search.html?q={quote(word)}", wait_until="load")
            tab.page.wait_for_function(
                "() => document.querySelector('#search-results ul.search li a') || "
                "(document.querySelector('#search-results p') && "
                "!document.querySelector('#search-results p').textContent.includes('Preparing'))")
            hrefs = tab.page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
            found = [h for h in hrefs if urlparse(h).path.endswith(_lesson_page(stem, edition))]
            if stem == min(words):
                _shot(tab.page, f"{edition}-search-{word}")
            assert found, f"searching {word!r} in the {edition} edition did not find {stem}: {hrefs[:8]}"
        assert not tab.outside and not tab.errors, (tab.outside, tab.errors)
    finally:
        tab.close()


# --------------------------------------------------------------------------- nothing leaks into the student edition


def _norm(text: str) -> str:
    return " ".join(text.split())


def _markdown_text(source: str) -> str:
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(source)
    return _norm(BeautifulSoup(html, "html.parser").get_text(""))


class _ArticleText(html.parser.HTMLParser):
    """The text of a page's <article> (what BeautifulSoup's get_text gives, without building a tree: faster)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth, self.skip, self.parts = 0, 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag == "article"
        self.skip += tag in ("script", "style") and self.depth > 0

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style") and self.skip > 0
        self.depth -= tag == "article" and self.depth > 0

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.parts.append(data)


@functools.cache
def _page_text(path: Path) -> str:
    parser = _ArticleText()
    parser.feed(path.read_text(encoding="utf-8"))
    return _norm("".join(parser.parts))


def _region(source: str, begin: str, end: str) -> list[str]:
    lines, inside = [], False
    for line in source.splitlines():
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def _sentences(text: str) -> list[str]:
    """Sentences of rendered text long enough to be telling, without formulas (MathJax renders those)."""
    return [s for s in re.split(r"(?<=[.!?:;])\s+", text) if len(s) >= 30 and "$" not in s and "\\" not in s]


@functools.cache
def _student_sources(site: Path) -> tuple[str, str]:
    """All the student notebooks' code, and their text as rendered: a phrase any of them has is fair to show."""
    cells = [c for s in _course(site) if (_staged(site, "student") / book.lesson_path(s, "student")).exists()
             for c in _notebook(site, s, "student").cells]
    return ("\n".join(c.source for c in cells),
            _norm(" ".join(_markdown_text(c.source) if c.cell_type == "markdown" else c.source for c in cells)))


def _held_back(site: Path, stem: str) -> dict[str, list[str]]:
    """Texts of a solution notebook that its release must not show, by what they are, each with the snippets
    to look for: solution code lines, hidden-test lines, sentences of written answers and of results cells.
    Snippets that a student notebook also has (shared phrases, such as ``for seed in seeds:``) are left out."""
    nb = _notebook(site, stem, "instructor")
    student_code, student_text = _student_sources(site)
    held: dict[str, list[str]] = {}
    for i, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code":
            for kind, (begin, end) in {"solution": ("### BEGIN SOLUTION", "### END SOLUTION"),
                                       "hidden test": ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")}.items():
                lines = [ln.strip() for ln in _region(cell.source, begin, end)]
                snippets = [_norm(ln) for ln in lines if len(ln) >= 16 and ln not in student_code]
                if snippets:
                    held[f"{stem} cell {i + 1} ({kind})"] = snippets
        elif "results" in cell.metadata.get("tags", []) or meta.get("solution"):
            kind = "results" if "results" in cell.metadata.get("tags", []) else "written answer"
            source = "\n".join(ln for ln in cell.source.splitlines()   # no nbgrader markers, no box (the site's)
                               if not ln.strip().startswith(("### ", "::::", ":class:")))
            snippets = [s for s in _sentences(_markdown_text(source)) if s not in student_text]
            held[f"{stem} cell {i + 1} ({kind})"] = snippets
    return held


def test_student_edition_holds_no_solution(site):
    student_files = [p for p in (site / "student").rglob("*") if p.is_file()
                     and p.suffix in (".html", ".txt", ".js", ".ipynb", ".json", ".md")
                     and "_static/mathjax" not in p.as_posix()]
    assert student_files
    for path in student_files:
        text = path.read_text(encoding="utf-8", errors="replace")
        found = [m for m in MARKERS if m in text]
        assert not found, f"{path.relative_to(site)} holds {found}"
    student_text = "\n".join(_page_text(p) for p in (site / "student").rglob("*.html")
                             if "_static" not in p.as_posix())
    checked = {"solution": 0, "hidden test": 0, "written answer": 0, "results": 0}
    for stem in _course(site):
        if not (_staged(site, "student") / book.lesson_path(stem, "student")).exists():
            continue  # reported by test_every_lesson_in_both_editions
        instructor = _page_text(site / "instructor" / _lesson_page(stem, "instructor"))
        for what, snippets in _held_back(site, stem).items():
            kind = what.rsplit("(", 1)[1].rstrip(")")
            seen = [s for s in snippets if s in instructor]
            if kind in ("results", "written answer"):
                # the check must be able to see the text: at least one sentence of it is on the instructor page
                assert seen or not snippets, \
                    f"{what}: none of its sentences found on the instructor page: {snippets[:2]}"
            else:
                assert seen == snippets, f"{what}: not on the instructor page: {set(snippets) - set(seen)}"
            leaked = [s for s in seen if s in student_text]
            assert not leaked, f"the student edition shows {what}: {leaked[:3]}"
            checked[kind] += len(seen)
    assert checked["solution"] > 0 and checked["results"] > 0, checked


# --------------------------------------------------------------------------- one address, everywhere


def test_badges_and_buttons_use_the_repository_of_pyproject(site):
    settings = book.project_settings()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert book.readme_badges(settings) in readme, \
        "README's Colab/Binder badges differ from pyproject.toml's [project.urls] Repository: paste " \
        f"{book.readme_badges(settings)}"
    # every other link to the course's repository: Colab and Binder links, git clone commands
    links = re.findall(r"colab\.research\.google\.com/github/([\w.-]+)/([\w.-]+)/", readme) \
        + re.findall(r"mybinder\.org/v2/gh/([\w.-]+)/([\w.-]+)/", readme) \
        + re.findall(r"git clone https://github\.com/([\w.-]+)/([\w-]+)", readme)
    assert links
    for owner, name in links:
        assert (owner, name) == (settings["owner"], settings["name"]), f"README names github.com/{owner}/{name}"
    for edition in EDITIONS:
        home = _html(site, edition, "index.html")
        hrefs = [a.get("href") for a in home.select("article a")]
        assert book.colab_url("notebooks/00_welcome.ipynb", settings) in hrefs
        assert book.binder_url("notebooks/00_welcome.ipynb", settings) in hrefs
        for stem in _course(site):
            if not (site / edition / _lesson_page(stem, edition)).exists():
                continue  # reported by test_every_lesson_in_both_editions
            links = _hrefs(site, edition, _lesson_page(stem, edition))
            path = book.lesson_path(stem, edition)
            assert book.colab_url(path, settings) in links, f"{edition} {stem}: no Colab button"
            assert book.binder_url(path, settings) in links, f"{edition} {stem}: no Binder button"


def test_binder_installs_cpu_torch_in_pyproject_ranges():
    pyproject = book._load_toml(ROOT / "pyproject.toml")
    wanted = {re.split(r"[<>=!~ ]", d, maxsplit=1)[0]: d for d in pyproject["project"]["dependencies"]}
    lines = [ln.strip() for ln in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert "--index-url https://download.pytorch.org/whl/cpu" in lines
    assert wanted["torch"] in lines and wanted["torchvision"] in lines, (lines, wanted["torch"], wanted["torchvision"])
    post = (ROOT / "binder" / "postBuild")
    assert os.access(post, os.X_OK) and "pip install --no-cache-dir -e ." in post.read_text()


# --------------------------------------------------------------------------- the Colab set-up cell


def test_colab_cell_is_added_once(tmp_path, capsys):
    lessons = book.lessons("instructor")
    for path in {lessons[0], lessons[-1]}:  # the first and the last lesson: the script's logic is per notebook
        shutil.copy(path, tmp_path / path.name)
    copies = sorted(tmp_path.glob("*.ipynb"))
    before = {p.name: nbformat.read(p, 4) for p in copies}
    fresh = [p for p in copies if not colab.has_current_cell(before[p.name])]
    if fresh:  # notebooks without the cell fail the check (the script's command line, run in this process)
        assert colab.main(["--check", *map(str, fresh)]) == 1
    assert colab.main(list(map(str, copies))) == 0
    first = {p.name: p.read_bytes() for p in copies}
    capsys.readouterr()
    assert colab.main(list(map(str, copies))) == 0
    assert capsys.readouterr().out == "" and {p.name: p.read_bytes() for p in copies} == first, \
        "a second run changed notebooks"
    assert colab.main(["--check", *map(str, copies)]) == 0
    for path in copies:
        nb, old = nbformat.read(path, 4), before[path.name]
        tagged = [i for i, c in enumerate(nb.cells) if colab.TAG in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and nb.cells[tagged[0]].source == colab.cell_source()
        assert nb.cells[tagged[0]].outputs == []
        others = [c for c in nb.cells if colab.TAG not in c.metadata.get("tags", [])]
        assert [c.source for c in others] == \
            [c.source for c in old.cells if colab.TAG not in c.metadata.get("tags", [])]
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        assert first_code == tagged[0], f"{path.name}: the Colab cell is not the first code cell"
        nbformat.validate(nb)


def test_colab_cell_does_nothing_outside_colab(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[colab.make_cell(), nbformat.v4.new_code_cell(
        "import os, sys\nprint(os.getcwd(), any(p.startswith('/content') for p in sys.path))")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs == [], "the Colab cell printed something outside Colab"
    assert nb.cells[1].outputs[0]["text"] == f"{os.path.realpath(tmp_path)} False\n", "the cell changed folder or path"


def test_colab_cell_on_a_simulated_colab_finds_the_data(tmp_path):
    # the "GitHub repository": this checkout's tracked files of the kit, committed in a new git repository
    origin = tmp_path / "origin"
    tracked = subprocess.run(["git", "ls-files", "dcai_lab", "data", "notebooks", "pyproject.toml", "README.md"],
                             cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()
    assert "data/digits_ssl_encoder.pt" in tracked, "the shipped encoder is not in git: a clone would lack it"
    for rel in tracked:
        if (ROOT / rel).is_file():
            (origin / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / rel, origin / rel)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid", "-c", "init.defaultBranch=main"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "kit"]):
        subprocess.run([*git, *args], cwd=origin, check=True, capture_output=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(origin), f"{origin}.git"], check=True, capture_output=True)
    branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=origin, check=True,
                            capture_output=True, text=True).stdout.strip()
    settings = {**book.project_settings(), "repository": str(origin), "branch": branch}
    kit = tmp_path / "content" / "dcai-lab"
    source = colab.cell_source(settings).replace(colab.KIT, str(kit))
    harness = f"""
import json, os, subprocess, sys, types
sys.modules["google.colab"] = types.ModuleType("google.colab")   # what Colab's runtime has imported
calls, real_run = [], subprocess.run
def run(cmd, *args, **kwargs):
    calls.append(cmd)
    if cmd[1:3] == ["-m", "pip"]:   # pip -e here would replace this venv's kit with the clone
        return subprocess.CompletedProcess(cmd, 0)
    return real_run(cmd, *args, **kwargs)
subprocess.run = run
exec({source!r})
import dcai_lab.data, dcai_lab.encoder
net = dcai_lab.encoder.load_encoder(kind="ssl")
print(json.dumps({{"calls": calls, "module": dcai_lab.data.__file__, "data_dir": str(dcai_lab.data.DATA_DIR),
                  "cwd": os.getcwd(), "digits": list(dcai_lab.data.load_digits().images.shape), "kind": net.kind}}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", harness], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=False, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    clone, pip = out["calls"]
    assert clone == ["git", "clone", "--quiet", "--depth", "1", "--branch", branch, f"{origin}.git", str(kit)]
    assert pip[1:] == ["-m", "pip", "install", "--quiet", "--no-deps", "-e", str(kit), "faiss-cpu"]
    assert Path(out["module"]).is_relative_to(kit), f"the kit was imported from {out['module']}, not the clone"
    assert out["data_dir"] == str(kit / "data") and out["cwd"] == str(kit / "notebooks")
    assert out["digits"] == [1797, 8, 8] and out["kind"] == "ssl"


def test_environment_yml_has_the_ranges_of_pyproject():
    """conda users get what pip users get: every requirement of pyproject.toml (with its dev and docs extras) is in
    environment.yml with the same range, PyTorch and torchvision as conda-forge's CPU-only builds."""
    import yaml

    pyproject = book._load_toml(ROOT / "pyproject.toml")
    extras = pyproject["project"]["optional-dependencies"]
    wanted = [d for d in pyproject["project"]["dependencies"] + extras["dev"] + extras["docs"] if "dcai-lab" not in d]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    specs = {}
    for entry in env + next(e["pip"] for e in env if isinstance(e, dict)):
        if isinstance(entry, str):
            m = re.fullmatch(r"([\w.-]+)\[version='([^']+)',\s*build='([^']+)'\]", entry)
            name, spec = (m.group(1), m.group(2)) if m else re.match(r"([\w.-]+)(.*)", entry).groups()
            if m:
                assert m.group(3) == "cpu*", f"{entry}: not a CPU-only build"
            specs[{"pytorch": "torch"}.get(name, name)] = spec.strip()
    for requirement in wanted:
        name, spec = re.match(r"([\w.-]+)(?:\[[\w,]+\])?(.*)", requirement).groups()  # dask[distributed]: dask
        assert specs.get(name) == spec, f"environment.yml has {name} {specs.get(name)!r}, pyproject.toml {spec!r}"
    assert "-e ." in next(e["pip"] for e in env if isinstance(e, dict)), "environment.yml must install the kit itself"


def test_every_notebook_has_the_colab_cell():
    """The solution notebooks carry the current set-up cell (scripts/add_colab_cell.py) and the release copies it."""
    settings = book.project_settings()
    missing = [p.relative_to(ROOT).as_posix() for edition in EDITIONS for p in book.lessons(edition)
               if not colab.has_current_cell(nbformat.read(p, 4), settings)]
    assert not missing, (f"no current Colab set-up cell in {missing}: run python scripts/add_colab_cell.py, "
                         "then make release")
