"""Small SVG charts computed on the server: horizontal bars and stacked horizontal bars.

The same markup goes into the HTML report and the PDF (WeasyPrint draws inline SVG), so a report
needs no script and no chart library at view time.  Output is deterministic (same data, same
bytes) and every label is escaped: vendor names come from devices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

FONT = "Noto Sans, DejaVu Sans, sans-serif"
ROW = 22  # height of one bar row
BAR = 15  # height of one bar
CHAR_W = 6.6  # average advance of one character at 11 px, to size the label column


@dataclass(frozen=True)
class Segment:
    """One coloured part of a bar."""

    key: str
    label: str
    value: int
    colour: str


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _label_width(labels: Sequence[str], limit: int) -> float:
    longest = max((len(_clip(s, limit)) for s in labels), default=4)
    return min(max(60.0, longest * CHAR_W + 10), limit * CHAR_W + 10)


def _legend(items: Sequence[tuple[str, str]], y: float, width: float) -> tuple[list[str], float]:
    """Legend boxes laid out left to right, wrapping; returns the elements and the next y."""
    parts, x = [], 0.0
    for label, colour in items:
        w = 16 + len(label) * CHAR_W + 14
        if x and x + w > width:
            x, y = 0.0, y + 16
        parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="10" height="10" fill="{escape(colour)}"/>'
                     f'<text x="{_num(x + 14)}" y="{_num(y + 9)}">{escape(label)}</text>')
        x += w
    return parts, y + 16


def _svg(width: float, height: float, title: str, body: list[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{_num(width)}" height="{_num(height)}" '
        f'viewBox="0 0 {_num(width)} {_num(height)}" role="img" aria-label="{escape(title)}" '
        f'font-family="{FONT}" font-size="11" fill="#1c2833"><title>{escape(title)}</title>'
        + "".join(body) + "</svg>")


def bar_chart(rows: Sequence[tuple[str, int, str]], *, title: str, width: float = 460,
              label_limit: int = 24) -> Markup:
    """Horizontal bars: one (label, value, colour) per row, the value written after its bar."""
    lw = _label_width([r[0] for r in rows], label_limit)
    span = width - lw - 40
    top = max([1, *(r[1] for r in rows)])
    body = []
    for i, (label, value, colour) in enumerate(rows):
        y = 4 + i * ROW
        w = span * value / top
        body.append(f'<text x="0" y="{_num(y + 11.5)}">{escape(_clip(label, label_limit))}</text>'
                    f'<rect x="{_num(lw)}" y="{y}" width="{_num(w)}" height="{BAR}" fill="{escape(colour)}"/>'
                    f'<text x="{_num(lw + w + 4)}" y="{_num(y + 11.5)}">{value}</text>')
    return _svg(width, 8 + len(rows) * ROW, title, body)


def stacked_chart(rows: Sequence[tuple[str, Sequence[Segment]]], *, title: str, width: float = 460,
                  label_limit: int = 28, normalise: bool = False) -> Markup:
    """Stacked horizontal bars with a legend.  ``normalise`` draws every bar full width (shares);
    otherwise bar length follows the row total.  A segment wide enough shows its value inside."""
    lw = _label_width([r[0] for r in rows], label_limit)
    span = width - lw - 40
    top = max([1, *(sum(s.value for s in segs) for _, segs in rows)])
    body = []
    legend: dict[str, tuple[str, str]] = {}
    for i, (label, segs) in enumerate(rows):
        y = 4 + i * ROW
        total = sum(s.value for s in segs)
        scale = span / (total or 1) if normalise else span / top
        body.append(f'<text x="0" y="{_num(y + 11.5)}">{escape(_clip(label, label_limit))}</text>')
        x = lw
        for s in segs:
            legend.setdefault(s.key, (s.label, s.colour))
            if s.value <= 0:
                continue
            w = s.value * scale
            body.append(f'<rect x="{_num(x)}" y="{y}" width="{_num(w)}" height="{BAR}" fill="{escape(s.colour)}">'
                        f'<title>{escape(s.label)}: {s.value}</title></rect>')
            if w >= 7 * len(str(s.value)) + 4:
                body.append(f'<text x="{_num(x + w / 2)}" y="{_num(y + 11.5)}" text-anchor="middle" '
                            f'fill="#ffffff">{s.value}</text>')
            x += w
        body.append(f'<text x="{_num(x + 4)}" y="{_num(y + 11.5)}">{total}</text>')
    parts, height = _legend(list(legend.values()), 10 + len(rows) * ROW, width)
    return _svg(width, height + 2, title, body + parts)
