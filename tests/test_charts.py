"""The SLA page's chart geometry (services/charts.py), without a database or a template."""

from datetime import date, timedelta

import pytest

from services.charts import day_chart, histogram
from services.sla import Counts

DAY = date(2024, 5, 10)


def test_day_bars_stack_delivered_failed_and_the_rest_up_to_the_busiest_day():
    days = [
        (DAY, Counts(total=78, delivered=50, failed=20)),
        (DAY + timedelta(days=1), Counts(total=39, delivered=39)),
        (DAY + timedelta(days=2), Counts()),
    ]
    chart = day_chart(days)
    assert (chart.top, chart.bar_width, chart.height) == (78, 238, 160)
    assert chart.width == 3 * 240 + 40
    assert [bar.x for bar in chart.bars] == [40, 280, 520]
    delivered, failed, other = chart.bars[0].segments
    assert [s.css for s in (delivered, failed, other)] == ["bar-read", "bar-failed", "bar-pending"]
    assert (delivered.height, failed.height, other.height) == pytest.approx((100, 40, 16))  # 156 / 78 a handoff
    assert (delivered.y, failed.y, other.y) == pytest.approx((60, 20, 4))  # each on top of the one below
    assert chart.bars[0].other == 8
    assert chart.bars[1].segments[0].height == pytest.approx(78)  # half the busiest day
    assert all(s.height == 0 and s.y == 160 for s in chart.bars[2].segments)
    assert [bar.label for bar in chart.bars] == ["05-10", None, "05-12"]  # first and last day only


def test_many_days_keep_a_readable_bar_width():
    days = [(DAY + timedelta(days=i), Counts(total=1, delivered=1)) for i in range(366)]
    chart = day_chart(days)
    assert chart.bar_width == 6
    assert chart.bars[-1].x == 40 + 365 * 8 and chart.width == 366 * 8 + 40


def test_empty_charts_draw_nothing_and_divide_by_nothing():
    assert day_chart([]).bars == () and day_chart([]).top == 0
    flat = histogram([("< 10 s", 0), ("≥ 1 h", 0)])
    assert [(bar.y, bar.height) for bar in flat.bars] == [(140, 0), (140, 0)]


def test_histogram_bars_scale_to_the_fullest_bucket():
    chart = histogram([("< 10 s", 10), ("10–30 s", 5), ("≥ 1 h", 0)])
    assert chart.width == 3 * 78 and chart.bar_width == 70
    assert [bar.x for bar in chart.bars] == [0, 78, 156]
    assert [bar.height for bar in chart.bars] == pytest.approx([126, 63, 0])  # 14 left above for the count
    assert [bar.y for bar in chart.bars] == pytest.approx([14, 77, 140])
    assert [(bar.label, bar.count) for bar in chart.bars][0] == ("< 10 s", 10)
