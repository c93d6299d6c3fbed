"""Sphinx configuration for the cnnjax documentation site.

Build: ``python -m sphinx -W -b html docs docs/_build/html`` (the README's command).

Math: every ``.. math::`` in the docstrings is pre-rendered to MathML at build time by
``_ext/mathml.py`` (latex2mathml, pure Python). Chosen over MathJax/KaTeX because the pages
then need no JavaScript and no bundled fonts at all, so they render offline by construction,
a browser test can check the math in the served HTML itself, and the docs extra stays one
small wheel; over imgmath because that needs a LaTeX installation. A formula the converter
cannot handle is a build warning, so ``-W`` catches it.

The op-family pages, the config reference and the tolerance table are generated from the
code by ``_ext/apigen.py`` at every build, so they cannot drift from it.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent / "_ext"))

project = "cnnjax"
author = "the cnnjax developers"
copyright = "2026, the cnnjax developers"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "myst_parser",
    "mathml",
    "apigen",
]
html_math_renderer = "mathml"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]  # $...$ and $$...$$ in the Markdown pages

# Signatures as DESIGN.md writes them (``conv2d(x, w, b=None, *, stride=1, ...)``): the
# docstrings give every argument's type and shape, and autodoc would expand ArrayLike into
# its whole union.
autodoc_typehints = "none"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "alabaster"
html_static_path = ["_static"]
html_css_files = ["cnnjax.css"]
html_theme_options = {"description": "CNN layers for JAX with hand-derived VJPs"}
