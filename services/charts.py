"""Geometry of the SLA page's SVG charts: where each bar goes and how tall it is.

The templates only draw what this computes (templates/history/_charts.html); the numbers are
SVG user units in the chart's own viewBox.
"""

from dataclasses import dataclass
from datetime import date

DAY_CHART_HEIGHT = 160  # the baseline; labels go below it
DAY_CHART_WIDTH = 720  # bars share this width, never thinner than MIN_BAR
MIN_BAR = 6
GAP = 2
AXIS = 40  # room on the left for the scale's label
HISTOGRAM_HEIGHT = 140
HISTOGRAM_BAR = 70
HISTOGRAM_GAP = 8
LABEL_ROOM = 24  # below the baseline, for the axis labels


@dataclass(frozen=True)
class Segment:
    """One coloured part of a stacked bar: its top and its height."""

    css: str
    y: float
    height: float


@dataclass(frozen=True)
class DayBar:
    day: date
    counts: object  # services.sla.Counts
    other: int  # neither delivered nor failed: in progress or unknown
    x: int
    segments: tuple[Segment, ...]
    label: str | None  # the date under the first and the last bar


@dataclass(frozen=True)
class DayChart:
    bars: tuple[DayBar, ...]
    bar_width: int
    top: int  # the busiest day's total, the scale's maximum
    width: int
    height: int = DAY_CHART_HEIGHT
    view_height: int = DAY_CHART_HEIGHT + LABEL_ROOM
    axis_x: int = AXIS - 2  # where the baseline starts


@dataclass(frozen=True)
class HistogramBar:
    label: str
    count: int
    x: int
    y: float
    height: float


@dataclass(frozen=True)
class Histogram:
    bars: tuple[HistogramBar, ...]
    bar_width: int
    width: int
    height: int = HISTOGRAM_HEIGHT
    view_height: int = HISTOGRAM_HEIGHT + LABEL_ROOM


def day_chart(days: list) -> DayChart:
    """Stacked bars per day, bottom up: delivered or read, failed, the rest. `days` is
    [(date, Counts)] in order, as services.sla gives it."""
    bar = max(MIN_BAR, DAY_CHART_WIDTH // (len(days) or 1) - GAP)
    top = max((counts.total for _, counts in days), default=0)
    scale = (DAY_CHART_HEIGHT - 4) / top if top else 0
    bars = []
    for index, (day, counts) in enumerate(days):
        other = counts.total - counts.delivered - counts.failed
        base = DAY_CHART_HEIGHT
        segments = []
        for css, value in (("bar-read", counts.delivered), ("bar-failed", counts.failed), ("bar-pending", other)):
            height = value * scale
            base -= height
            segments.append(Segment(css, base, height))
        label = day.strftime("%m-%d") if index in (0, len(days) - 1) else None
        bars.append(DayBar(day, counts, other, AXIS + index * (bar + GAP), tuple(segments), label))
    return DayChart(tuple(bars), bar, top, (bar + GAP) * len(days) + AXIS)


def histogram(buckets: list[tuple[str, int]]) -> Histogram:
    """One bar per delivery-time bucket, scaled to the fullest; room above each for its count."""
    top = max((count for _, count in buckets), default=0)
    bars = []
    for index, (label, count) in enumerate(buckets):
        height = count * (HISTOGRAM_HEIGHT - 14) / top if top else 0
        bars.append(
            HistogramBar(label, count, index * (HISTOGRAM_BAR + HISTOGRAM_GAP), HISTOGRAM_HEIGHT - height, height)
        )
    return Histogram(tuple(bars), HISTOGRAM_BAR, (HISTOGRAM_BAR + HISTOGRAM_GAP) * len(buckets))
