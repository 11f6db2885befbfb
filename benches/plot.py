#!/usr/bin/env python3
"""Draws the scaling figures of benches/scaling.sh as one SVG, with the Python standard library only.

    plot.py POINTS.tsv OUT.svg

POINTS.tsv has one point per line, tab-separated: panel, series, x, y. A panel's first line may instead be
`#panel<TAB>name<TAB>title<TAB>x label<TAB>y label<TAB>x scale<TAB>y scale` (scale `log` or `linear`), which
sets its axes; panels are drawn side by side in the order they first appear, each series as a line with
markers and a legend.
"""

import math
import sys
from collections import OrderedDict

WIDTH, HEIGHT = 360, 300
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 30, 40, 96
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def nice_ticks(low, high, log):
    if log:
        first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
        return [10.0**e for e in range(first, last + 1)]
    span = high - low or 1.0
    step = 10 ** math.floor(math.log10(span / 4))
    for factor in (1, 2, 5, 10):
        if span / (step * factor) <= 6:
            step *= factor
            break
    start = math.floor(low / step) * step
    ticks, value = [], start
    while value <= high + step / 2:
        ticks.append(round(value, 10))
        value += step
    return ticks


def label(value):
    if value >= 1000 and value == int(value):
        return f"{int(value):,}"
    if value == int(value):
        return str(int(value))
    return f"{value:g}"


def panel_svg(index, panel, out):
    x0 = index * WIDTH
    points = [p for series in panel["series"].values() for p in series]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    xlog, ylog = panel["xscale"] == "log", panel["yscale"] == "log"
    xticks = nice_ticks(min(xs), max(xs), xlog)
    yticks = nice_ticks(0 if not ylog else min(ys), max(ys), ylog)
    xlow, xhigh = xticks[0], xticks[-1]
    ylow, yhigh = yticks[0], yticks[-1]
    if not xlog and len(set(xs)) > 1:
        xlow, xhigh = min(xs), max(xs)
        xticks = sorted(set(xs))

    def position(value, low, high, log, size):
        if log:
            value, low, high = math.log10(value), math.log10(low), math.log10(high)
        return (value - low) / ((high - low) or 1.0) * size

    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(x):
        return x0 + MARGIN_LEFT + position(x, xlow, xhigh, xlog, plot_w)

    def py(y):
        return MARGIN_TOP + plot_h - position(y, ylow, yhigh, ylog, plot_h)

    out.append(f'<text x="{x0 + WIDTH / 2}" y="20" text-anchor="middle" font-weight="bold">{panel["title"]}</text>')
    out.append(
        f'<rect x="{x0 + MARGIN_LEFT}" y="{MARGIN_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>'
    )
    for tick in xticks:
        x = px(tick)
        out.append(f'<line x1="{x}" y1="{MARGIN_TOP}" x2="{x}" y2="{MARGIN_TOP + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{x}" y="{MARGIN_TOP + plot_h + 14}" text-anchor="middle">{label(tick)}</text>')
    for tick in yticks:
        y = py(tick)
        out.append(f'<line x1="{x0 + MARGIN_LEFT}" y1="{y}" x2="{x0 + MARGIN_LEFT + plot_w}" y2="{y}" stroke="#eee"/>')
        out.append(f'<text x="{x0 + MARGIN_LEFT - 4}" y="{y + 4}" text-anchor="end">{label(tick)}</text>')
    out.append(
        f'<text x="{x0 + MARGIN_LEFT + plot_w / 2}" y="{MARGIN_TOP + plot_h + 32}" text-anchor="middle">{panel["xlabel"]}</text>'
    )
    out.append(
        f'<text transform="translate({x0 + 14},{MARGIN_TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{panel["ylabel"]}</text>'
    )
    for number, (name, series) in enumerate(panel["series"].items()):
        colour = COLOURS[number % len(COLOURS)]
        series = sorted(series)
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in series)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in series:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        legend_y = MARGIN_TOP + plot_h + 50 + number * 16
        out.append(
            f'<line x1="{x0 + MARGIN_LEFT}" y1="{legend_y - 4}" x2="{x0 + MARGIN_LEFT + 20}" y2="{legend_y - 4}" stroke="{colour}" stroke-width="2"/>'
        )
        out.append(f'<text x="{x0 + MARGIN_LEFT + 26}" y="{legend_y}">{name}</text>')


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py POINTS.tsv OUT.svg")
    panels = OrderedDict()
    with open(sys.argv[1], encoding="utf-8") as points:
        for line in points:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "#panel":
                _, name, title, xlabel, ylabel, xscale, yscale = fields
                panel = panels.setdefault(name, {"series": OrderedDict()})
                panel.update(title=title, xlabel=xlabel, ylabel=ylabel, xscale=xscale, yscale=yscale)
            elif len(fields) == 4:
                name, series, x, y = fields
                panel = panels.setdefault(
                    name, {"series": OrderedDict(), "title": name, "xlabel": "", "ylabel": "", "xscale": "linear", "yscale": "linear"}
                )
                panel["series"].setdefault(series, []).append((float(x), float(y)))
    panels = [panel for panel in panels.values() if panel["series"]]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH * len(panels)}" height="{HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<rect width="{WIDTH * len(panels)}" height="{HEIGHT}" fill="white"/>',
    ]
    for index, panel in enumerate(panels):
        panel_svg(index, panel, out)
    out.append("</svg>")
    with open(sys.argv[2], "w", encoding="utf-8") as svg:
        svg.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
