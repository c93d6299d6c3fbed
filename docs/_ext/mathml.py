"""Pre-render every ``.. math::`` / ``:math:`` node to MathML at build time (no JavaScript).

Browsers render MathML natively (Chromium since 109, Firefox, Safari), so the built pages
show the derivations offline, with nothing to download at viewing time. A formula that
``latex2mathml`` cannot convert is a build warning naming the formula (an error under -W).
"""

from __future__ import annotations

import re

from docutils import nodes
from latex2mathml.converter import convert
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


# A backslash command left in the MathML's text: a macro the converter passed through as is.
_LEFT_OVER = re.compile(r">[^<]*(\\[A-Za-z]+)")


def _mathml(self, node: nodes.Element, latex: str, display: str) -> str:
    try:
        mathml = convert(latex, display=display).replace("\\_", "_")  # \texttt{a\_b} keeps \_
    except Exception as err:  # noqa: BLE001 - any converter failure becomes a located warning
        logger.warning(f"mathml: cannot convert {latex!r}: {err}", location=node)
        return f'<code class="math-error">{self.encode(latex)}</code>'
    if left := _LEFT_OVER.search(mathml):
        logger.warning(f"mathml: {left.group(1)} left unrendered in {latex!r}", location=node)
    return mathml


def _visit_inline(self, node: nodes.Element) -> None:
    self.body.append(f'<span class="math">{_mathml(self, node, node.astext(), "inline")}</span>')
    raise nodes.SkipNode


def _visit_block(self, node: nodes.Element) -> None:
    parts = [p for p in node.astext().split("\n\n") if p.strip()]
    if node.get("number"):
        self.body.append(f'<span class="eqno">({node["number"]})</span>')
    for latex in parts:
        self.body.append(f'<div class="math">{_mathml(self, node, latex, "block")}</div>')
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict:
    app.add_html_math_renderer(
        "mathml", inline_renderers=(_visit_inline, None), block_renderers=(_visit_block, None)
    )
    return {"parallel_read_safe": True, "parallel_write_safe": True}
