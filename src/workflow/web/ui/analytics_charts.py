"""Charts of the analytics page drawn on the server as inline SVG (no script, no library): horizontal bars with
a label and the value written beside each, an optional marker (the 90th percentile, the plan), and stacked
columns by month. Every chart is an image named in words; its table on the page holds the same figures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

SVG = "http://www.w3.org/2000/svg"
ET.register_namespace("", SVG)
LABEL_WIDTH = 210.0
BAR_WIDTH = 220.0  # room on the right for "30 days (90%: 50 days)" written past the bar
ROW = 26.0
COLOURS = ("#1f4e79", "#b54708", "#2e7d32", "#6a1b9a", "#00695c", "#8a1c1c", "#455a64", "#9e6a00", "#283593",
           "#4e342e", "#37474f")


@dataclass(frozen=True)
class BarRow:
    """One bar: its label, its length, the text written after it, and an optional marker (drawn as a tick)."""

    label: str
    value: float
    text: str
    marker: float | None = None
    marker_text: str = ""


def _el(parent: ET.Element, name: str, **attrs: object) -> ET.Element:
    names = {k.rstrip("_").replace("_", "-"): str(v) for k, v in attrs.items()}  # class_ → class, text_anchor → …
    return ET.SubElement(parent, f"{{{SVG}}}{name}", names)


def _svg(chart_id: str, title: str, width: float, height: float) -> ET.Element:
    root = ET.Element(f"{{{SVG}}}svg", {"viewBox": f"0 0 {width:g} {height:g}", "role": "img",
                                        "aria-labelledby": f"{chart_id}-title", "class": "chart",
                                        "preserveAspectRatio": "xMinYMin meet", "id": chart_id})
    name = _el(root, "title", id=f"{chart_id}-title")
    name.text = title
    return root


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hbars(chart_id: str, title: str, rows: Sequence[BarRow], *, marker_name: str = "") -> Markup | None:
    """Horizontal bars on one scale (``None`` when there is nothing to draw)."""
    if not rows:
        return None
    top = max([r.value for r in rows] + [r.marker or 0 for r in rows] + [1.0])
    height = ROW * len(rows) + (22 if marker_name else 6)
    root = _svg(chart_id, title, LABEL_WIDTH + BAR_WIDTH + 200, height)
    for i, row in enumerate(rows):
        y = i * ROW + 4
        label = _el(root, "text", x=LABEL_WIDTH - 8, y=y + 15, text_anchor="end", class_="chart-label")
        label.text = _short(row.label)
        width = max(row.value / top * BAR_WIDTH, 1.5 if row.value else 0)
        _el(root, "rect", x=LABEL_WIDTH, y=y, width=f"{width:.1f}", height=ROW - 8, fill=COLOURS[0], rx=2)
        reach = max(width, (row.marker or 0) / top * BAR_WIDTH + 2)  # the value is written past the marker
        value = _el(root, "text", x=f"{LABEL_WIDTH + reach + 6:.1f}", y=y + 15, class_="chart-value")
        value.text = row.text
        if row.marker is not None:
            x = LABEL_WIDTH + row.marker / top * BAR_WIDTH
            _el(root, "line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=y - 2, y2=y + ROW - 6, stroke="#b54708",
                stroke_width=3)
    if marker_name:
        y = ROW * len(rows) + 8
        _el(root, "line", x1=LABEL_WIDTH, x2=LABEL_WIDTH + 14, y1=y + 6, y2=y + 6, stroke="#b54708", stroke_width=3)
        legend = _el(root, "text", x=LABEL_WIDTH + 20, y=y + 10, class_="chart-value")
        legend.text = marker_name
    return Markup(ET.tostring(root, encoding="unicode"))  # serialised by ElementTree: every text escaped


def columns(chart_id: str, title: str, months: Sequence[tuple[str, dict[str, int]]],
            series: Sequence[str]) -> Markup | None:
    """Stacked columns, one per month, one colour per series (each named in the legend)."""
    if not months:
        return None
    top = max([sum(counts.values()) for _, counts in months] + [1])
    step = max(min(44.0, 560.0 / len(months)), 14.0)
    plot_h = 160.0
    legend_rows = -(-len(series) // 3)
    width = 50 + step * len(months) + 10
    root = _svg(chart_id, title, max(width, 560), plot_h + 40 + legend_rows * 18)
    axis = _el(root, "text", x=4, y=14, class_="chart-value")
    axis.text = str(top)
    _el(root, "line", x1=44, x2=44 + step * len(months), y1=plot_h + 10, y2=plot_h + 10, stroke="#5b6b7c")
    for i, (month, counts) in enumerate(months):
        x = 46 + i * step
        y = plot_h + 10
        for s, name in enumerate(series):
            n = counts.get(name, 0)
            if not n:
                continue
            h = n / top * plot_h
            y -= h
            _el(root, "rect", x=f"{x:.1f}", y=f"{y:.1f}", width=f"{step - 4:.1f}", height=f"{h:.1f}",
                fill=COLOURS[s % len(COLOURS)])
        if len(months) <= 14 or i % 3 == 0:
            tick = _el(root, "text", x=f"{x:.1f}", y=plot_h + 26, class_="chart-tick")
            tick.text = month[2:] if len(months) > 8 else month
    for s, name in enumerate(series):
        x = 46 + (s % 3) * 180
        y = plot_h + 36 + (s // 3) * 18
        _el(root, "rect", x=x, y=y, width=12, height=12, fill=COLOURS[s % len(COLOURS)])
        legend = _el(root, "text", x=x + 16, y=y + 11, class_="chart-tick")
        legend.text = _short(name, 26)
    return Markup(ET.tostring(root, encoding="unicode"))
