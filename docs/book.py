"""Build the course website, offline, in two editions: ``make book`` (``python docs/book.py``).

- **instructor** (``build/book/instructor/``): the solution notebooks of ``notebooks/solutions/`` with their stored
  outputs, the answers pages of ``notebooks/answers/`` and the instructor guide (INSTRUCTORS.md). Keep it private.
- **student** (``build/book/student/``): the released notebooks of ``notebooks/`` (no solutions, no hidden tests,
  no results held back by the release), no answers pages. Publish this one.

No notebook is executed: MyST-NB renders what is stored in them. Each edition's sources are staged in
``build/book/_staging/<edition>/`` with the repository's paths (``notebooks/01_active_learning.ipynb`` ...), so the
pages' Colab and Binder buttons open the right file of the repository. The home page is made here: the course
outline table (objectives, session times, exercises) is read from INSTRUCTORS.md's "Course outline", the
introduction from README.md's first paragraphs and the set-up page from README.md's "Installing on your own
laptop" section, so the site never disagrees with them. The repository's address and branch come from
pyproject.toml (``[project.urls] Repository``, ``[tool.dcai-lab] branch``), as do README's badges.

    python docs/book.py                       # both editions into build/book/
    python docs/book.py --edition student --out /tmp/site
    python docs/book.py --badges              # README's Colab/Binder badge line for pyproject's repository
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
NOTEBOOKS = ROOT / "notebooks"
EDITIONS = ("instructor", "student")
PLACEHOLDER_REPOSITORY = "https://github.com/YOUR-ORG/dcai-lab"
SETUP_HEADING = "Installing on your own laptop"
OUTLINE_HEADING = "Course outline"
# the note the release puts after each written-answer cell links to the answers page; the student site has none
ANSWERS_LINK = re.compile(r"\[([^\]]+)\]\((?:\./)?answers/([^)#\s]+?)(?:#[^)\s]*)?\)")


# --------------------------------------------------------------------------- settings and links


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        from pip._vendor import tomli as tomllib
    return tomllib.loads(path.read_text(encoding="utf-8"))


def project_settings() -> dict:
    """The repository's address and branch, from pyproject.toml (the one place the instructor sets them)."""
    pyproject = _load_toml(ROOT / "pyproject.toml")
    urls = pyproject.get("project", {}).get("urls", {})
    repository = urls.get("Repository", PLACEHOLDER_REPOSITORY).rstrip("/")
    branch = pyproject.get("tool", {}).get("dcai-lab", {}).get("branch", "main")
    parts = urlparse(repository)
    path = [p for p in parts.path.split("/") if p]
    if parts.netloc != "github.com" or len(path) != 2:
        raise ValueError(f"[project.urls] Repository in pyproject.toml must be https://github.com/<owner>/<name> "
                         f"(Colab opens notebooks from GitHub), got {repository!r}")
    return {"repository": repository, "branch": branch, "owner": path[0], "name": path[1].removesuffix(".git"),
            "placeholder": repository == PLACEHOLDER_REPOSITORY}


def colab_url(path: str, settings: dict | None = None) -> str:
    """Open the repository's notebook ``path`` (e.g. ``notebooks/00_welcome.ipynb``) in Google Colab."""
    s = settings or project_settings()
    return f"https://colab.research.google.com/github/{s['owner']}/{s['name']}/blob/{s['branch']}/{path}"


def binder_url(path: str, settings: dict | None = None) -> str:
    """Open the repository in JupyterLab on mybinder.org, at the notebook ``path``."""
    s = settings or project_settings()
    return f"https://mybinder.org/v2/gh/{s['owner']}/{s['name']}/{s['branch']}?urlpath=lab/tree/{path}"


def readme_badges(settings: dict | None = None) -> str:
    """The badge line README.md holds (the test checks it agrees with pyproject.toml)."""
    first = "notebooks/00_welcome.ipynb"
    colab_badge = "https://colab.research.google.com/assets/colab-badge.svg"
    return (f"[![Open in Colab]({colab_badge})]({colab_url(first, settings)}) "
            f"[![Launch Binder](https://mybinder.org/badge_logo.svg)]({binder_url(first, settings)})")


# --------------------------------------------------------------------------- sources


def lessons(edition: str) -> list[Path]:
    """The notebooks of an edition, in course order (by file name)."""
    folder = NOTEBOOKS / "solutions" if edition == "instructor" else NOTEBOOKS
    return sorted(folder.glob("[0-9]*.ipynb"))


def lesson_path(stem: str, edition: str) -> str:
    """A lesson's path in the repository (and in the staged sources)."""
    return f"notebooks/solutions/{stem}.ipynb" if edition == "instructor" else f"notebooks/{stem}.ipynb"


def lesson_title(path: Path) -> str:
    """The first Markdown heading of a notebook (the page title), without its '#'."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def section(markdown: str, heading: str) -> str:
    """The body of the ``## heading`` section of a Markdown text (up to the next ``## `` heading)."""
    match = re.search(rf"^## {re.escape(heading)}[ \t]*\n(.*?)(?=^## |\Z)", markdown, flags=re.MULTILINE | re.DOTALL)
    if not match:
        raise ValueError(f"no '## {heading}' section")
    return match.group(1).strip()


def intro() -> str:
    """README.md's opening paragraphs (after its title, before its first section)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    body = readme.split("\n## ", 1)[0]
    lines = [line for line in body.splitlines()[1:] if not line.startswith("[![")]  # no title, no badges
    return "\n".join(lines).strip()


def _minutes(text: str) -> int | None:
    """The time a session cell starts with: "90 min", "1 h 30 min", "135 min (two sessions: ...)"."""
    match = re.match(r"\s*(?:(\d+)\s*h\b)?\s*(?:(\d+)\s*min\b)?", text)
    if not match or not any(match.groups()):
        return None
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def outline(edition: str, settings: dict) -> tuple[str, int]:
    """INSTRUCTORS.md's course outline table with each notebook linked (with its Colab and Binder links), and the
    total session minutes."""
    text = section((ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8"), OUTLINE_HEADING)
    rows = [line for line in text.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise ValueError(f"INSTRUCTORS.md's '{OUTLINE_HEADING}' has no table")
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    session = next((i for i, h in enumerate(header) if h.lower().startswith("session")), None)
    stems = {p.stem for p in lessons(edition)}
    out, total = rows[:2], 0
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        stem = cells[0].strip("` ")
        if stem in stems:  # the lesson's page, then where to run it (and, for the instructor, its answers)
            links = [f"[Colab]({colab_url(lesson_path(stem, 'student'), settings)})",
                     f"[Binder]({binder_url(lesson_path(stem, 'student'), settings)})"]
            if edition == "instructor" and (NOTEBOOKS / "answers" / f"{stem}.md").exists():
                links.append(f"[answers](notebooks/answers/{stem}.md)")
            cells[0] = f"[`{stem}`]({lesson_path(stem, edition)})<br>" + " · ".join(links)
        if session is not None and session < len(cells):
            total += _minutes(cells[session]) or 0
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out), total


def home_page(edition: str, settings: dict) -> str:
    """The home page: introduction, edition note, badges, outline with times, and the toctrees."""
    table, minutes = outline(edition, settings)
    first = lesson_path("00_welcome", "student")
    badges = (f'<a href="{colab_url(first, settings)}"><img src="_static/colab-badge.svg" alt="Open in Colab"></a> '
              f'<a href="{binder_url(first, settings)}"><img src="_static/binder-badge.svg" alt="Launch Binder"></a>')
    if edition == "instructor":
        note = ("This is the **instructor edition**: the solution notebooks with their stored outputs, the answers "
                "pages and the instructor guide. Publish the student edition to students, never this one.")
    else:
        note = ("This is the **student edition**: each lesson as you get it, exercises unanswered and results left for "
                "you to find. Run the notebooks yourself (on your laptop, in Colab or on Binder) to see their outputs.")
    lesson_docs = [lesson_path(p.stem, edition).removesuffix(".ipynb") for p in lessons(edition)]
    toctrees = ["```{toctree}", ":caption: Lessons", ":maxdepth: 1", ":hidden:", "", *lesson_docs, "```", "",
                "```{toctree}", ":caption: Getting started", ":maxdepth: 1", ":hidden:", "", "setup"]
    if edition == "instructor":
        toctrees += ["instructors", "```", "", "```{toctree}", ":caption: Answers", ":maxdepth: 1", ":hidden:", "",
                     *[f"notebooks/answers/{p.stem}" for p in answers_pages()]]
    toctrees += ["```"]
    total = f"{minutes // 60} h {minutes % 60:02d} min" if minutes else ""
    return "\n".join([
        "# Data-centric AI lab", "", intro(), "", note, "", badges, "",
        f"## {OUTLINE_HEADING}", "",
        ("Objectives, session times and graded exercises of each lesson (from the instructor guide). "
        "Each lesson opens with its own objectives, prerequisites and times per section."), "",
        table, "",
        f"In all: {len(lesson_docs)} lessons, {total} of lab sessions." if total else "", "",
        ("Set up on your own laptop with [the set-up page](setup.md); or open a lesson in Colab or on Binder from "
        "the table above or from the rocket button at the top of each lesson. The search box finds words in every "
        "lesson."), "",
        *toctrees, ""])


def setup_page() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return f"# Set-up\n\n{section(readme, SETUP_HEADING)}\n"


def answers_pages() -> list[Path]:
    return sorted((NOTEBOOKS / "answers").glob("*.md"))


def student_notebook(text: str) -> str:
    """A released notebook for the student site: its links to the answers pages (not on that site) become text."""
    nb = json.loads(text)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            new = ANSWERS_LINK.sub(lambda m: f"{m.group(1)} (the file `answers/{m.group(2)}` beside the notebook, "
                                             "not on this site)", source)
            if new != source:
                cell["source"] = new
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def instructor_notebook(text: str) -> str:
    """A solution notebook for the instructor site: each written-answer cell (a Markdown solution cell) loses
    nbgrader's ``### BEGIN/END SOLUTION`` lines (they would become headings) and is boxed as the instructor's
    answer, with its grade id and points. Code cells, outputs and everything else are left as they are."""
    nb = json.loads(text)
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell["cell_type"] != "markdown" or not meta.get("solution"):
            continue
        lines = [ln for ln in "".join(cell["source"]).splitlines()
                 if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
        body = "\n".join(lines).strip()
        if any(ln.lstrip().startswith(("#", ":::")) for ln in lines):  # headings cannot sit in a box
            cell["source"] = body
            continue
        points = meta.get("points") or 0
        grade_id = meta.get("grade_id", "")
        title = (f"Written answer `{grade_id}` ({points:g} points, graded by hand): the instructor's answer"
                 if points else f"`{grade_id}`: the instructor's note")
        cell["source"] = f"::::{{admonition}} {title}\n:class: tip\n\n{body}\n::::"
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def staged_files(edition: str, settings: dict) -> dict[str, str | bytes]:
    """Every source file of an edition, by its path in the staging folder."""
    files: dict[str, str | bytes] = {"index.md": home_page(edition, settings), "setup.md": setup_page()}
    for path in lessons(edition):
        text = path.read_text(encoding="utf-8")
        files[lesson_path(path.stem, edition)] = (instructor_notebook(text) if edition == "instructor"
                                                  else student_notebook(text))
    if edition == "instructor":
        files["instructors.md"] = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
        for page in answers_pages():
            files[f"notebooks/answers/{page.name}"] = page.read_text(encoding="utf-8")
    return files


def stage(edition: str, staging: Path, settings: dict) -> None:
    """Write an edition's sources; unchanged files keep their time stamps (Sphinx rebuilds only what changed)."""
    files = staged_files(edition, settings)
    staging.mkdir(parents=True, exist_ok=True)
    for existing in [p for p in staging.rglob("*") if p.is_file()]:
        if existing.relative_to(staging).as_posix() not in files:
            existing.unlink()
    for rel, content in files.items():
        target = staging / rel
        data = content.encode("utf-8") if isinstance(content, str) else content
        if not target.exists() or target.read_bytes() != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


# --------------------------------------------------------------------------- build


def build(edition: str, out: Path, settings: dict, quiet: bool = True) -> dict:
    """Stage and build one edition into ``out/<edition>``; returns the pages, the warnings and the seconds."""
    start = time.monotonic()
    staging, html = out / "_staging" / edition, out / edition
    stage(edition, staging, settings)
    warnings = out / f"{edition}-warnings.txt"
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-t", edition, "-c", str(DOCS),
               "-d", str(out / "_doctrees" / edition), "-w", str(warnings), "--keep-going", str(staging), str(html)]
    if quiet:
        command.insert(3, "-q")
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    run = subprocess.run(command, env=env, capture_output=quiet, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"sphinx-build failed for the {edition} edition (exit {run.returncode}):\n"
                           f"{(run.stdout or '')[-3000:]}{(run.stderr or '')[-3000:]}")
    pages = sorted(p.relative_to(html).as_posix() for p in html.rglob("*.html")
                   if not p.relative_to(html).as_posix().startswith("_"))
    return {"edition": edition, "html": html, "pages": pages, "warnings": warnings.read_text().strip().splitlines()
            if warnings.exists() else [], "seconds": time.monotonic() - start}


def build_all(out: Path, editions=EDITIONS, quiet: bool = True) -> dict[str, dict]:
    """Build the editions side by side (one sphinx-build each)."""
    settings = project_settings()
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=len(editions)) as pool:
        results = list(pool.map(lambda e: build(e, out, settings, quiet), editions))
    return {r["edition"]: r for r in results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "book", help="output folder (build/book)")
    parser.add_argument("--edition", choices=(*EDITIONS, "both"), default="both")
    parser.add_argument("--badges", action="store_true",
                        help="print README's badge line for the repository of pyproject.toml, build nothing")
    args = parser.parse_args(argv)
    settings = project_settings()
    if args.badges:
        print(readme_badges(settings))
        return 0
    if settings["placeholder"]:
        print(f"note: the repository address is the placeholder {PLACEHOLDER_REPOSITORY}: set [project.urls] "
              "Repository in pyproject.toml so the Colab and Binder buttons open your repository", file=sys.stderr)
    editions = EDITIONS if args.edition == "both" else (args.edition,)
    start = time.monotonic()
    results = build_all(args.out.resolve(), editions)
    for edition in editions:
        r = results[edition]
        lessons_n = sum(1 for p in r["pages"] if p.startswith("notebooks/") and "/answers/" not in p)
        print(f"{edition:10s} {len(r['pages']):3d} pages ({lessons_n} lessons) in {r['seconds']:.0f} s, "
              f"{len(r['warnings'])} warnings: {r['html'] / 'index.html'}")
        for line in r["warnings"]:
            print(f"    {line}")
    print(f"built in {time.monotonic() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
