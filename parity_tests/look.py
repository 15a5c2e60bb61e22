"""The look every pipeport report shares (parity, replay, diff): one page shell, one table style,
and plots drawn as inline SVG (no plotting library, no script) with readable axes: ticks, tick
labels and axis titles on both axes, and counts on a histogram's y axis.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}figure{display:inline-block;margin:1em 1.5em 1em 0;vertical-align:top}"
    "figcaption{font-weight:600;margin-bottom:4px}svg{vertical-align:top}"
    "svg text{font-family:system-ui,sans-serif}"
    "code{font-size:12px}.verdict-passed{color:#137333}.verdict-failed{color:#b3261e}"
)
#: Row background by status: passed green, failed or error red, anything else (not run) amber.
STATUS_COLOURS = {"passed": "#e6f4ea", "failed": "#fce8e6", "error": "#fce8e6"}
NOT_RUN_COLOUR = "#fff4e5"


def esc(value: object) -> str:
    return html.escape(str(value))


def page(title: str, heading: str, verdict: str, body: str) -> str:
    """A whole report: `verdict` is PASSED or FAILED (coloured), `body` the HTML under it."""
    kind = "passed" if verdict == "PASSED" else "failed"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{esc(heading)} — <span class="verdict-{kind}">{esc(verdict)}</span></h1>'
        f"{body}</body></html>\n"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]], colours: Sequence[str] = ()) -> str:
    """A table of already-escaped cells; `colours`, when given, is each row's background."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = []
    for i, cells in enumerate(rows):
        style = f' style="background:{colours[i]}"' if i < len(colours) and colours[i] else ""
        body.append(f"<tr{style}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def status_colour(status: str) -> str:
    return STATUS_COLOURS.get(status, NOT_RUN_COLOUR)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.05 or 0.5
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks: list[float] = []
    value = first
    while value < high + step * 0.5 and len(ticks) < 50:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def _tick_text(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        return f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")
    return f"{value:.6g}"


def scatter(
    x: np.ndarray,
    y: np.ndarray,
    *,
    x_label: str,
    y_label: str,
    title: str,
    width: int = 340,
    height: int = 320,
    max_points: int = 3000,
) -> str:
    """x against y on the same scale (two runtimes' or two versions' values of one quantity),
    with the y = x diagonal: points off it are disagreements."""
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if not len(x):
        return "<p>no finite values to plot</p>"
    ticks = nice_ticks(float(min(x.min(), y.min())), float(max(x.max(), y.max())))
    lo, hi = ticks[0], ticks[-1]
    left, right, top, bottom = 58, 12, 24, 46
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    def py(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{esc(title)}">',
        f'<text x="{left}" y="14" font-size="12" font-weight="600">{esc(title)}</text>',
    ]
    for t in ticks:
        parts.append(
            f'<line x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" y2="{top + plot_h}" '
            'stroke="#eee"/>'
            f'<line x1="{left}" y1="{py(t):.1f}" x2="{left + plot_w}" y2="{py(t):.1f}" '
            'stroke="#eee"/>'
            f'<line x1="{px(t):.1f}" y1="{top + plot_h}" x2="{px(t):.1f}" y2="{top + plot_h + 4}" '
            'stroke="#444"/>'
            f'<text x="{px(t):.1f}" y="{top + plot_h + 15}" font-size="10" '
            f'text-anchor="middle">{_tick_text(t)}</text>'
            f'<line x1="{left - 4}" y1="{py(t):.1f}" x2="{left}" y2="{py(t):.1f}" stroke="#444"/>'
            f'<text x="{left - 6}" y="{py(t) + 3:.1f}" font-size="10" '
            f'text-anchor="end">{_tick_text(t)}</text>'
        )
    parts.append(
        f'<line x1="{px(lo):.1f}" y1="{py(lo):.1f}" x2="{px(hi):.1f}" y2="{py(hi):.1f}" '
        'stroke="#bbb" stroke-dasharray="4 3"/>'
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#444"/>'
    )
    idx = np.linspace(0, len(x) - 1, min(len(x), max_points)).astype(int)
    dots = "".join(
        f'<circle cx="{px(float(x[i])):.1f}" cy="{py(float(y[i])):.1f}" r="1.8"/>' for i in idx
    )
    parts.append(f'<g fill="#1f77b4" fill-opacity="0.55">{dots}</g>')
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" font-size="11" '
        f'text-anchor="middle">{esc(x_label)}</text>'
        f'<text transform="translate(13,{top + plot_h / 2:.1f}) rotate(-90)" font-size="11" '
        f'text-anchor="middle">{esc(y_label)}</text></svg>'
    )
    return "".join(parts)


def histogram(
    labels: Sequence[str],
    counts: Sequence[int],
    *,
    x_label: str,
    title: str,
    y_label: str = "rows",
    width: int = 380,
    height: int = 240,
) -> str:
    """Bars with a count axis (ticks and labels) and every bin labelled."""
    top_count = max(max(counts, default=0), 1)
    ticks = [t for t in nice_ticks(0.0, float(top_count)) if t >= 0]
    ticks = sorted({int(math.ceil(t)) for t in ticks})
    hi = max(ticks[-1], top_count)
    left, right, top, bottom = 52, 8, 24, 64
    plot_w, plot_h = width - left - right, height - top - bottom
    bar = plot_w / max(len(counts), 1)

    def py(v: float) -> float:
        return top + plot_h - v / hi * plot_h

    parts = [
        f'<svg width="{width}" height="{height}" role="img" aria-label="{esc(title)}">',
        f'<text x="{left}" y="14" font-size="12" font-weight="600">{esc(title)}</text>',
    ]
    for t in ticks:
        parts.append(
            f'<line x1="{left}" y1="{py(t):.1f}" x2="{left + plot_w}" y2="{py(t):.1f}" '
            'stroke="#eee"/>'
            f'<line x1="{left - 4}" y1="{py(t):.1f}" x2="{left}" y2="{py(t):.1f}" stroke="#444"/>'
            f'<text x="{left - 6}" y="{py(t) + 3:.1f}" font-size="10" text-anchor="end">{t}</text>'
        )
    for i, (label, count) in enumerate(zip(labels, counts, strict=True)):
        x = left + i * bar
        h = count / hi * plot_h
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{max(bar - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="#ff7f0e"><title>{esc(label)}: {count}</title></rect>'
        )
        cx, cy = x + bar / 2, top + plot_h + 10
        parts.append(
            f'<text transform="translate({cx:.1f},{cy:.1f}) rotate(-55)" font-size="9" '
            f'text-anchor="end">{esc(label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#444"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#444"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" font-size="11" '
        f'text-anchor="middle">{esc(x_label)}</text>'
        f'<text transform="translate(13,{top + plot_h / 2:.1f}) rotate(-90)" font-size="11" '
        f'text-anchor="middle">{esc(y_label)}</text></svg>'
    )
    return "".join(parts)


def decade_bins(
    values: np.ndarray, lowest: int = -17, highest: int = 0
) -> tuple[list[str], list[int]]:
    """Counts of |value| by decade: 0 in its own bin, then (10^(k-1), 10^k] up to 10^highest,
    and a last bin for anything larger."""
    values = np.abs(np.asarray(values, np.float64).ravel())
    values = values[~np.isnan(values)]
    labels = ["0"]
    counts = [int((values == 0).sum())]
    for k in range(lowest, highest + 1):
        lo = 0.0 if k == lowest else 10.0 ** (k - 1)
        labels.append(f"≤1e{k}" if k else "≤1")
        counts.append(int(((values > lo) & (values <= 10.0**k)).sum()))
    labels.append(f">1e{highest}" if highest else ">1")
    counts.append(int((values > 10.0**highest).sum()))
    return labels, counts
