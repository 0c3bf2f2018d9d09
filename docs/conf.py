"""Sphinx configuration of the course website (both editions); `make book` runs it through docs/book.py.

docs/book.py stages each edition's sources (the home page, the lessons' notebooks at their repository paths, and
for the instructor edition the answers pages and the instructor guide) and calls sphinx-build with this folder as
the configuration folder and the tag ``instructor`` or ``student``. Nothing is executed: MyST-NB renders the
outputs stored in the notebooks. Everything the pages load is served from the site itself (MathJax from the
sphinx-mathjax-offline package, the theme's fonts and icons from sphinx-book-theme), so the site works offline.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import book

EDITION = "instructor" if tags.has("instructor") else "student"  # noqa: F821  (tags: set by sphinx-build -t)
SETTINGS = book.project_settings()

project = "dcai-lab"
author = "the dcai-lab authors"
copyright = "the dcai-lab authors, MIT licence"
html_title = f"dcai-lab · {EDITION} edition"

extensions = [
    "myst_nb",                   # notebooks and MyST Markdown (brings myst_parser)
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",    # MathJax 3 copied into _static/mathjax: no CDN
]

# --- MyST: the notebooks' Markdown ------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "html_admonition"]
myst_dmath_double_inline = True
myst_heading_anchors = 3

# --- MyST-NB: render the stored outputs, never run a notebook ----------------------------------------
nb_execution_mode = "off"
nb_ipywidgets_js = {}            # no widget state is stored (the outputs are static figures); never load a CDN
nb_mime_priority_overrides = [   # a live widget cannot run on a static page: show its static fallback
    ("html", "application/vnd.jupyter.widget-view+json", None),
    ("html", "application/vnd.jupyter.widget-state+json", None),
]
nb_merge_streams = True
smartquotes = False   # keep the notebooks' text as written (quotes, dashes)

# --- HTML ---------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_last_updated_fmt = None
html_show_sphinx = False
html_context = {"edition": EDITION}
html_theme_options = {
    "repository_url": SETTINGS["repository"],
    "repository_branch": SETTINGS["branch"],
    "path_to_docs": "",          # the staged sources keep their repository paths (notebooks/solutions/...)
    "use_repository_button": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "launch_buttons": {
        "colab_url": "https://colab.research.google.com",
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
    },
    "announcement": ("Instructor edition: solutions, stored outputs and answers. Publish the student edition "
                     "to students.") if EDITION == "instructor" else "",
}

exclude_patterns = ["**.ipynb_checkpoints", "_build"]
suppress_warnings = ["myst.header"]  # a notebook's Markdown may skip a heading level; not worth failing for
