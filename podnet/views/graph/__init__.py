"""Diagrams of a lab: the topic's flat-network figure, drawn from the lab's own state.

Mirrors containerlab's ``graph`` verb. Four outputs: SVG (:mod:`~podnet.views.graph.svg`, our
own layout), PNG (:mod:`~podnet.views.graph.png`, the SVG through a converter), Mermaid and
Graphviz DOT text (:mod:`~podnet.views.graph.mermaid`, :mod:`~podnet.views.graph.dot`), all
from the same facts (:mod:`~podnet.views.graph.facts`).
"""

from __future__ import annotations

from podnet.views.graph.dot import to_dot
from podnet.views.graph.mermaid import to_mermaid
from podnet.views.graph.png import png_converters, to_png
from podnet.views.graph.svg import to_svg

__all__ = ["png_converters", "to_dot", "to_mermaid", "to_png", "to_svg"]
