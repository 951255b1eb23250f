"""The MAIL FROM state diagram as inline SVG, drawn from the machine's own table
(core.machine.TRANSITIONS), with one state marked current and its way out
highlighted. Only where each state sits on the canvas is chosen here; the edges
and their labels all come from the table.
"""
from __future__ import annotations

import math
from html import escape

from ..core.machine import RESTART, TRANSITIONS
from ..core.model import MailFromStatus

WIDTH, HEIGHT = 640, 350
NODE_W, NODE_H = 170, 44
# Where each state sits: a square, so every pair of states has a clear line.
LAYOUT = {
    MailFromStatus.PENDING: (140, 80),
    MailFromStatus.SUCCESS: (500, 80),
    MailFromStatus.TEMPORARY_FAILURE: (140, 255),
    MailFromStatus.FAILED: (500, 255),
}
START = (20, 80)


def _position(status: MailFromStatus, index: int) -> tuple[float, float]:
    return LAYOUT.get(status, (WIDTH / 2, 40 + 60 * index))


def _edges() -> dict[tuple[MailFromStatus, MailFromStatus], list[str]]:
    """(from, to) -> the events that move it there, in table order."""
    edges: dict[tuple[MailFromStatus, MailFromStatus], list[str]] = {}
    for source, row in TRANSITIONS.items():
        for event, target in row.items():
            edges.setdefault((source, target), []).append(event)
    return edges


def _border_point(cx: float, cy: float, dx: float, dy: float) -> tuple[float, float]:
    """Where a ray from a node's centre along (dx, dy) leaves its box."""
    scale = min((NODE_W / 2 + 4) / abs(dx) if dx else math.inf, (NODE_H / 2 + 4) / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def state_diagram_svg(current: MailFromStatus | None = None) -> str:
    states = list(TRANSITIONS)
    where = {s: _position(s, i) for i, s in enumerate(states)}
    parts = [
        f'<svg class="state-diagram" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="MAIL FROM state diagram{", current state " + current.value if current else ""}" '
        'xmlns="http://www.w3.org/2000/svg">',
        '<defs>'
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
        '<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>'
        '<marker id="arrow-hot" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto"><path d="M0,0 L10,5 L0,10 z" class="arrowhead hot"/></marker></defs>',
    ]
    # The start: "(none) --PUT--> PENDING".
    px, py = where[MailFromStatus.PENDING]
    parts.append(f'<circle cx="{START[0]}" cy="{START[1]}" r="7" class="start"/>')
    parts.append(f'<path d="M{START[0] + 8},{START[1]} L{px - NODE_W / 2 - 4},{py}" class="edge" '
                 'marker-end="url(#arrow)"/>')
    for (source, target), events in _edges().items():
        hot = current is not None and source is current
        cls = "edge hot" if hot else "edge"
        marker = "url(#arrow-hot)" if hot else "url(#arrow)"
        label = escape(", ".join(events))
        sx, sy = where[source]
        if source is target:  # a loop on the node's outer side
            up = -1 if sy < HEIGHT / 2 else 1
            y0 = sy + up * NODE_H / 2
            x0, x1 = sx - 30, sx + 30
            ly = y0 + up * 36
            parts.append(f'<path d="M{x0},{y0} C{x0 - 10},{ly} {x1 + 10},{ly} {x1},{y0 + up * 3}" class="{cls}" '
                         f'marker-end="{marker}"/>')
            parts.append(f'<text x="{sx}" y="{ly + (4 if up > 0 else -2) * up + (10 if up > 0 else 0)}" '
                         f'class="edge-label{" hot" if hot else ""}" text-anchor="middle">{label}</text>')
            continue
        tx, ty = where[target]
        dx, dy = tx - sx, ty - sy
        length = math.hypot(dx, dy)
        nx, ny = -dy / length, dx / length  # left of the direction: A->B and B->A bend apart
        bend = 26
        x0, y0 = _border_point(sx, sy, dx + nx * bend * 2, dy + ny * bend * 2)
        x1, y1 = _border_point(tx, ty, -dx + nx * bend * 2, -dy + ny * bend * 2)
        mx, my = (sx + tx) / 2 + nx * bend * 1.6, (sy + ty) / 2 + ny * bend * 1.6
        parts.append(f'<path d="M{x0:.1f},{y0:.1f} Q{mx:.1f},{my:.1f} {x1:.1f},{y1:.1f}" class="{cls}" '
                     f'marker-end="{marker}"/>')
        lx, ly = (sx + tx) / 2 + nx * bend * 1.25, (sy + ty) / 2 + ny * bend * 1.25
        anchor = "middle"
        if dx and dy:  # diagonals cross in the middle: put each label nearer its source
            lx, ly = sx + dx * 0.33 + nx * 20, sy + dy * 0.33 + ny * 20
        elif not dx:  # vertical: the label beside its curve, away from the other one
            anchor = "end" if nx < 0 else "start"
        parts.append(f'<text x="{lx:.1f}" y="{ly + 4:.1f}" class="edge-label{" hot" if hot else ""}" '
                     f'text-anchor="{anchor}">{label}</text>')
    for status in states:
        x, y = where[status]
        cls = f"node status-{status.value}" + (" current" if status is current else "")
        parts.append(f'<g class="{cls}" data-state="{status.value}">'
                     f'<rect x="{x - NODE_W / 2}" y="{y - NODE_H / 2}" width="{NODE_W}" height="{NODE_H}" rx="10"/>'
                     f'<text x="{x}" y="{y + 5}" text-anchor="middle">{status.value}</text></g>')
    parts.append(f'<text x="{START[0] + 8}" y="{START[1] - 12}" class="edge-label">{escape(RESTART)}</text>')
    parts.append("</svg>")
    return "".join(parts)
