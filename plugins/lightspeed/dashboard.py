"""A self-contained HTML dashboard: per location and day, bar charts by interval + Totaling.

Everything is inline (SVG charts, one <style> block, no script, no external URL), so the file
opens from disk, mails as an attachment and renders inside an Airflow UI page without network.
Loading (`load_panels`) and rendering (`render_panel`, `render_page`) are separate so a later UI
page can render one location/day (`render_location_day`) without the whole range.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg2.extensions

from lightspeed.aggregates import StoredLocation
from lightspeed.migrate import read_sql
from lightspeed.reports import (
    Totals,
    check_range,
    fetch_dicts,
    quantity,
    resolve_locations,
    totaling,
    totaling_cells,
    totals_from_row,
    two_decimals,
)

_CHART_WIDTH = 560
_CHART_HEIGHT = 130
_PAD_LEFT, _PAD_RIGHT, _PAD_TOP, _PAD_BOTTOM = 56, 8, 16, 20

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2933}
h1{font-size:1.4em;margin:0 0 4px} h2{font-size:1.1em;margin:28px 0 8px}
.muted{color:#616e7c;font-size:.9em}
table{border-collapse:collapse;font-size:.85em;margin:8px 0}
th,td{padding:3px 8px;border-bottom:1px solid #e4e7eb;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}
tr.chain td{font-weight:600;border-top:2px solid #9aa5b1}
.day{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;border-top:1px solid #cbd2d9;padding-top:8px}
.charts{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:4px 16px}
svg text{font-size:10px;fill:#52606d} svg .title{font-size:11px;fill:#1f2933;font-weight:600}
"""


@dataclass(frozen=True)
class Point:
    """One bucket as charted: native grain of the location."""

    local_start: datetime
    interval_minutes: int
    in_opening_hours: bool
    sales: Decimal
    transactions: int
    items: Decimal
    staff_hours: Decimal
    traffic_in: int | None


@dataclass(frozen=True)
class DayPanel:
    location: StoredLocation
    day: date
    points: tuple[Point, ...]
    totals: Totals | None  # None when the day has no bucket at all


def _days(date_from: date, date_to: date) -> list[date]:
    return [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]


def load_panels(
    conn: psycopg2.extensions.connection,
    date_from: date,
    date_to: date,
    locations: Sequence[str] | None = None,
) -> list[DayPanel]:
    """One panel per location and local date (id order, then date), from two queries."""
    check_range(date_from, date_to)
    chosen = resolve_locations(conn, locations)
    params = {
        "date_from": date_from,
        "date_to": date_to,
        "locations": [loc.location_id for loc in chosen],
    }
    points: dict[tuple[str, date], list[Point]] = {}
    totals: dict[tuple[str, date], Totals] = {}
    with conn.cursor() as cur:
        cur.execute(read_sql("reports/intervals.sql"), params)
        for row in fetch_dicts(cur):
            points.setdefault((row["location_id"], row["local_date"]), []).append(
                Point(
                    local_start=row["local_start"],
                    interval_minutes=row["interval_minutes"],
                    in_opening_hours=row["in_opening_hours"],
                    sales=row["sales"],
                    transactions=int(row["transactions"]),
                    items=row["items"],
                    staff_hours=row["staff_hours"],
                    traffic_in=row["traffic_in"],
                )
            )
        cur.execute(read_sql("reports/daily.sql"), params)
        for row in fetch_dicts(cur):
            totals[(row["location_id"], row["local_date"])] = totals_from_row(row)
    return [
        DayPanel(
            location=loc,
            day=day,
            points=tuple(points.get((loc.location_id, day), ())),
            totals=totals.get((loc.location_id, day)),
        )
        for loc in chosen
        for day in _days(date_from, date_to)
    ]


def _bucket_label(point: Point) -> str:
    return point.local_start.strftime("%H:%M" if point.interval_minutes < 60 else "%H")


def _axis_label_wanted(point: Point, count: int) -> bool:
    # Enough ticks to read the time of day, few enough not to overlap.
    if point.local_start.minute:
        return False
    step = 1 if count <= 16 else 2 if count <= 32 else 3
    return point.local_start.hour % step == 0


def bar_chart(
    title: str, points: Sequence[Point], value: Callable[[Point], Decimal | int], fmt: Callable
) -> str:
    """An inline SVG bar chart of one metric; negative buckets (refunds) hang below zero."""
    plot_w = _CHART_WIDTH - _PAD_LEFT - _PAD_RIGHT
    plot_h = _CHART_HEIGHT - _PAD_TOP - _PAD_BOTTOM
    values = [Decimal(value(p)) for p in points]
    top = max([Decimal(0), *values])
    bottom = min([Decimal(0), *values])
    span = (top - bottom) or Decimal(1)
    zero_y = _PAD_TOP + float(top / span) * plot_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_CHART_WIDTH}" height="{_CHART_HEIGHT}" '
        f'viewBox="0 0 {_CHART_WIDTH} {_CHART_HEIGHT}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text class="title" x="{_PAD_LEFT}" y="11">{html.escape(title)}</text>',
        f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + 8}" text-anchor="end">{html.escape(fmt(top))}</text>',
        f'<line x1="{_PAD_LEFT}" x2="{_CHART_WIDTH - _PAD_RIGHT}" y1="{zero_y:.1f}" '
        f'y2="{zero_y:.1f}" stroke="#9aa5b1"/>',
    ]
    if bottom < 0:
        parts.append(
            f'<text x="{_PAD_LEFT - 4}" y="{_PAD_TOP + plot_h}" text-anchor="end">'
            f"{html.escape(fmt(bottom))}</text>"
        )
    width = plot_w / max(len(points), 1)
    for i, (point, val) in enumerate(zip(points, values, strict=True)):
        x = _PAD_LEFT + i * width
        height = float(abs(val) / span) * plot_h
        y = zero_y - height if val >= 0 else zero_y
        colour = "#3e7cb1" if point.in_opening_hours else "#9aa5b1"
        parts.append(
            f'<rect x="{x + 0.5:.1f}" y="{y:.1f}" width="{max(width - 1, 0.5):.1f}" '
            f'height="{height:.1f}" fill="{colour}"><title>{_bucket_label(point)}: '
            f"{html.escape(fmt(val))}</title></rect>"
        )
        if _axis_label_wanted(point, len(points)):
            parts.append(f'<text x="{x:.1f}" y="{_CHART_HEIGHT - 6}">{point.local_start:%H}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _html_table(header: Sequence[str], cells: Sequence[Sequence[str]], chain_last: bool) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(cells):
        css = ' class="chain"' if chain_last and i == len(cells) - 1 else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _day_figures(totals: Totals) -> str:
    header, cells = totaling_cells([totals])
    rows = "".join(
        f"<tr><td>{html.escape(h)}</td><td>{html.escape(v)}</td></tr>"
        for h, v in zip(header[1:], cells[0][1:], strict=True)
    )
    return f"<table><tbody>{rows}</tbody></table>"


def render_panel(panel: DayPanel) -> str:
    """The HTML fragment of one location and day: four charts and the day's figures."""
    heading = (
        f"{html.escape(panel.location.display_name)} &middot; {panel.day:%a %Y-%m-%d} "
        f'<span class="muted">({html.escape(panel.location.time_zone)}, '
        f"{panel.location.interval_minutes}-minute buckets, local wall-clock time)</span>"
    )
    if not panel.points or panel.totals is None:
        return (
            f'<section class="panel"><h2>{heading}</h2><p class="muted">No buckets for this '
            "day: the shop was closed or the day has not been aggregated yet.</p></section>"
        )
    charts = "".join(
        [
            bar_chart("Sales", panel.points, lambda p: p.sales, two_decimals),
            bar_chart("Transactions", panel.points, lambda p: p.transactions, str),
            bar_chart("Items", panel.points, lambda p: p.items, quantity),
            bar_chart("Staff hours", panel.points, lambda p: p.staff_hours, two_decimals),
        ]
    )
    if any(p.traffic_in is not None for p in panel.points):
        charts += bar_chart("Traffic (visitors in)", panel.points, lambda p: p.traffic_in or 0, str)
    return (
        f'<section class="panel"><h2>{heading}</h2><div class="day">'
        f'<div class="charts">{charts}</div>{_day_figures(panel.totals)}</div></section>'
    )


def render_page(
    date_from: date, date_to: date, range_totals: Sequence[Totals], panels: Sequence[DayPanel]
) -> str:
    """A complete, self-contained HTML document."""
    header, cells = totaling_cells(range_totals)
    title = f"T.M.A.S. dashboard {date_from} to {date_to}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        '<p class="muted">Local business dates, inclusive. Sales net of discounts without tax, '
        "returns negative; bars in grey are outside opening hours.</p>"
        f"<h2>Totaling</h2>{_html_table(header, cells, chain_last=True)}"
        + "".join(render_panel(panel) for panel in panels)
        + "</body></html>\n"
    )


def build_dashboard(
    conn: psycopg2.extensions.connection,
    date_from: date,
    date_to: date,
    locations: Sequence[str] | None = None,
) -> str:
    """The whole dashboard for a range: Totaling at the top, then one panel per location/day."""
    range_totals = totaling(conn, date_from, date_to, locations)
    panels = load_panels(conn, date_from, date_to, locations)
    return render_page(date_from, date_to, range_totals, panels)


def render_location_day(
    conn: psycopg2.extensions.connection, location_id: str, day: date, *, standalone: bool = False
) -> str:
    """One location/day: a fragment for an embedding page, or a full page when standalone."""
    panels = load_panels(conn, day, day, [location_id])
    if not standalone:
        return render_panel(panels[0])
    return render_page(day, day, totaling(conn, day, day, [location_id]), panels)
