"""Availability as plain functions: hours in the specialist's zone, DST changes, absences, load.

Europe/Berlin changes on the last Sundays of March (29 Mar 2026, 02:00 CET -> 03:00 CEST) and
October (25 Oct 2026, 03:00 CEST -> 02:00 CET); America/Sao_Paulo has no DST since 2019.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from services import availability as av
from services import languages
from services.availability import AbsenceDays, HoursError, parse_hours

WEEKDAYS = parse_hours("Mon-Fri 09:00-17:00")


def utc(*args) -> datetime:
    return datetime(*args)  # naive UTC, as the models store moments


@pytest.mark.parametrize(
    "text, stored",
    [
        ("Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00"),
        ("mon-fri 9:00-17:00", "Mon-Fri 09:00-17:00"),
        ("Monday-Thursday 09:00-17:00; Fri 09:00-13:00", "Mon-Thu 09:00-17:00; Fri 09:00-13:00"),
        ("Mon-Fri 09:00-12:00, 13:00-17:00", "Mon-Fri 09:00-12:00, 13:00-17:00"),
        ("Sat, Sun 10:00-14:00\nWed 08:00-10:00", "Wed 08:00-10:00; Sat-Sun 10:00-14:00"),
        ("Fri-Mon 22:00-24:00", "Mon 22:00-24:00; Fri-Sun 22:00-24:00"),
        ("", ""),
    ],
)
def test_hours_are_read_and_stored_tidily(text, stored):
    assert av.format_hours(parse_hours(text)) == stored


@pytest.mark.parametrize(
    "text, message",
    [
        ("Mon-Fri", "write days then times"),
        ("Mon-Fri 9-17", "09:00-17:00"),
        ("Mon-Fri 17:00-09:00", "split a night shift"),
        ("Mon-Fri 09:00-25:00", "not a time of day"),
        ("Mon-Fri 09:70-12:00", "not a time of day"),
        ("Mo 09:00-12:00", "not a day"),
        ("Funday 09:00-12:00", "not a day"),
        ("Mon 09:00-12:00, 11:00-13:00", "overlap"),
        ("Mon-Fri 09:00-12:00; Wed 11:00-13:00", "overlap"),
    ],
)
def test_unreadable_hours_say_what_to_write(text, message):
    with pytest.raises(HoursError, match=message):
        parse_hours(text)


def test_available_inside_their_hours_in_their_zone():
    # Monday 30 Nov 2026, 08:30 UTC = 09:30 in Berlin, 05:30 in Sao Paulo.
    berlin = av.status_at(utc(2026, 11, 30, 8, 30), "Europe/Berlin", WEEKDAYS, [])
    sao_paulo = av.status_at(utc(2026, 11, 30, 8, 30), "America/Sao_Paulo", WEEKDAYS, [])
    assert berlin.state == "available" and berlin.text == "available now"
    assert sao_paulo.state == "off_hours" and sao_paulo.text == "back today 09:00 (their time)"
    assert sao_paulo.next_start.isoformat() == "2026-11-30T09:00:00-03:00"


def test_friday_evening_is_back_monday():
    # Friday 4 Dec 2026, 17:00 UTC = 18:00 in Berlin.
    state = av.status_at(utc(2026, 12, 4, 17, 0), "Europe/Berlin", WEEKDAYS, [])
    assert state.text == "back Monday 09:00 (their time)"
    assert state.next_start.isoformat() == "2026-12-07T09:00:00+01:00"


def test_the_end_of_the_range_is_not_at_work():
    assert av.status_at(utc(2026, 11, 30, 16, 0), "Europe/Berlin", WEEKDAYS, []).state == "off_hours"
    assert av.status_at(utc(2026, 11, 30, 15, 59), "Europe/Berlin", WEEKDAYS, []).state == "available"


@pytest.mark.parametrize(
    "moment, state",
    [
        # The Friday before the spring change: 09:00 CET is 08:00 UTC.
        (utc(2026, 3, 27, 7, 59), "off_hours"),
        (utc(2026, 3, 27, 8, 0), "available"),
        # The Monday after it: 09:00 CEST is 07:00 UTC; a UTC-fixed rule would say 08:00.
        (utc(2026, 3, 30, 6, 59), "off_hours"),
        (utc(2026, 3, 30, 7, 0), "available"),
        (utc(2026, 3, 30, 14, 59), "available"),
        (utc(2026, 3, 30, 15, 0), "off_hours"),
        # The autumn change: Friday 23 Oct in CEST (07:00 UTC), Monday 26 Oct in CET (08:00 UTC).
        (utc(2026, 10, 23, 7, 0), "available"),
        (utc(2026, 10, 26, 7, 0), "off_hours"),
        (utc(2026, 10, 26, 8, 0), "available"),
        (utc(2026, 10, 26, 15, 59), "available"),
    ],
)
def test_hours_follow_berlin_across_dst_changes(moment, state):
    assert av.status_at(moment, "Europe/Berlin", WEEKDAYS, []).state == state


def test_back_monday_across_the_spring_change_is_their_09_00():
    # Friday 27 Mar 2026 17:00 UTC (18:00 CET): the next start is Monday 09:00 CEST = 07:00 UTC.
    state = av.status_at(utc(2026, 3, 27, 17, 0), "Europe/Berlin", WEEKDAYS, [])
    assert state.text == "back Monday 09:00 (their time)"
    assert state.next_start.isoformat() == "2026-03-30T09:00:00+02:00"


def test_a_range_starting_or_ending_in_the_skipped_hour_turns_at_the_jump():
    # 29 Mar 2026 in Berlin: 02:00 CET (01:00 UTC) becomes 03:00 CEST; 02:30 never shows on a clock.
    starts = parse_hours("Sun 02:30-10:00")
    before = av.status_at(utc(2026, 3, 29, 0, 50), "Europe/Berlin", starts, [])
    assert before.text == "back today 03:00 (their time)"
    assert before.next_start.isoformat() == "2026-03-29T03:00:00+02:00"
    assert av.status_at(utc(2026, 3, 29, 1, 10), "Europe/Berlin", starts, []).state == "available"  # 03:10 CEST
    ends = parse_hours("Sat 22:00-24:00; Sun 00:00-02:30")
    assert av.status_at(utc(2026, 3, 29, 0, 59), "Europe/Berlin", ends, []).state == "available"
    assert av.status_at(utc(2026, 3, 29, 1, 10), "Europe/Berlin", ends, []).state == "off_hours"


@pytest.mark.parametrize(
    "zone, day",
    [
        ("Europe/Berlin", date(2026, 3, 29)),
        ("America/Havana", date(2026, 3, 8)),  # a gap at midnight
        ("Australia/Lord_Howe", date(2026, 10, 4)),  # a 30-minute change
        ("Pacific/Apia", date(2011, 12, 30)),  # a whole day skipped
    ],
)
def test_wall_times_of_a_day_never_go_back_in_utc(zone, day):
    moments = [av.wall_to_utc(day, minute, ZoneInfo(zone)) for minute in range(0, 24 * 60 + 1, 10)]
    assert moments == sorted(moments)


def test_a_night_range_on_the_night_of_the_change_is_shorter_and_longer():
    hours = parse_hours("Sun 00:00-06:00")
    # 29 Mar: 00:00 CET = 23:00 UTC on the 28th, 06:00 CEST = 04:00 UTC: five real hours.
    assert av.status_at(utc(2026, 3, 28, 23, 0), "Europe/Berlin", hours, []).state == "available"
    assert av.status_at(utc(2026, 3, 29, 3, 59), "Europe/Berlin", hours, []).state == "available"
    assert av.status_at(utc(2026, 3, 29, 4, 0), "Europe/Berlin", hours, []).state == "off_hours"
    # 25 Oct: 00:00 CEST = 22:00 UTC on the 24th, 06:00 CET = 05:00 UTC: seven real hours.
    assert av.status_at(utc(2026, 10, 24, 22, 0), "Europe/Berlin", hours, []).state == "available"
    assert av.status_at(utc(2026, 10, 25, 4, 59), "Europe/Berlin", hours, []).state == "available"
    assert av.status_at(utc(2026, 10, 25, 5, 0), "Europe/Berlin", hours, []).state == "off_hours"


def test_on_leave_names_the_last_day_and_the_stand_in_then_the_next_start():
    leave = [AbsenceDays(date(2026, 11, 30), date(2026, 12, 3), "Omar")]
    state = av.status_at(utc(2026, 11, 30, 10, 0), "Europe/Berlin", WEEKDAYS, leave)
    assert state.state == "on_leave" and state.is_off
    assert state.text == "on leave until 3 Dec, stand-in: Omar"
    assert state.stand_in == "Omar" and state.until == date(2026, 12, 3)
    assert state.next_start.isoformat() == "2026-12-04T09:00:00+01:00"  # Friday, the day after


@pytest.mark.parametrize(
    "second",
    [
        AbsenceDays(date(2026, 12, 4), date(2026, 12, 10), "Jane"),  # the day after the first ends
        AbsenceDays(date(2026, 12, 2), date(2026, 12, 10), "Jane"),  # overlapping it
    ],
)
def test_leave_made_of_absences_back_to_back_ends_with_the_last(second):
    leave = [AbsenceDays(date(2026, 11, 30), date(2026, 12, 3), "Omar"), second]
    state = av.status_at(utc(2026, 11, 30, 10, 0), "Europe/Berlin", WEEKDAYS, leave)
    assert state.text == "on leave until 10 Dec, stand-in: Omar"  # today's stand-in, the whole leave's end
    assert state.until == date(2026, 12, 10) and state.next_start.isoformat() == "2026-12-11T09:00:00+01:00"
    inside = av.status_at(utc(2026, 12, 4, 10, 0), "Europe/Berlin", WEEKDAYS, [second, leave[0]])
    assert inside.text == "on leave until 10 Dec, stand-in: Jane"


def test_a_day_between_two_absences_ends_the_leave():
    leave = [AbsenceDays(date(2026, 11, 30), date(2026, 12, 3)), AbsenceDays(date(2026, 12, 5), date(2026, 12, 10))]
    state = av.status_at(utc(2026, 11, 30, 10, 0), None, {}, leave)
    assert state.text == "on leave until 3 Dec" and state.until == date(2026, 12, 3)


def test_the_absence_is_read_in_their_zone():
    # 23:30 UTC on 29 Nov is already 30 Nov in Berlin (their first day away), not yet in London.
    leave = [AbsenceDays(date(2026, 11, 30), date(2026, 11, 30))]
    assert av.status_at(utc(2026, 11, 29, 23, 30), "Europe/Berlin", WEEKDAYS, leave).text == "on leave until 30 Nov"
    assert av.status_at(utc(2026, 11, 29, 23, 30), "Europe/London", WEEKDAYS, leave).state == "off_hours"


def test_off_hours_skip_the_days_away():
    # Friday evening; away Monday and Tuesday: back Wednesday.
    leave = [AbsenceDays(date(2026, 12, 7), date(2026, 12, 8), "Omar")]
    state = av.status_at(utc(2026, 12, 4, 17, 0), "Europe/Berlin", WEEKDAYS, leave)
    assert state.text == "back Wednesday 09:00 (their time)"


def test_leave_without_hours_or_zone_still_shows():
    leave = [AbsenceDays(date(2026, 11, 30), date(2027, 1, 8), None)]
    state = av.status_at(utc(2026, 11, 30, 10, 0), None, {}, leave)
    assert state.text == "on leave until 8 Jan 2027" and state.next_start is None


@pytest.mark.parametrize(
    "zone, hours, text",
    [
        (None, WEEKDAYS, "time zone not set"),
        ("Europe/Berlin", {}, "working hours not set"),
        ("Not/AZone", WEEKDAYS, "time zone not set"),
    ],
)
def test_unknown_hours_are_said_and_never_count_as_off(zone, hours, text):
    state = av.status_at(utc(2026, 11, 30, 10, 0), zone, hours, [])
    assert state.state == "unknown" and state.text == text and not state.is_off


def test_today_is_their_day_across_dst():
    # Their 29 Mar 2026 is 23 hours long: 23:00 UTC on the 28th to 22:00 UTC on the 29th.
    start, end = av.day_bounds(utc(2026, 3, 29, 12, 0), "Europe/Berlin")
    assert (start, end) == (utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 22, 0))
    assert av.day_bounds(utc(2026, 11, 30, 1, 0), None) == (utc(2026, 11, 30), utc(2026, 12, 1))


def test_load_and_capacity():
    assert av.load_text(2, 8) == "2 of 8 today" and av.load_text(3, None) == "3 today"
    assert not av.over_capacity(7, 8) and av.over_capacity(8, 8) and not av.over_capacity(99, None)


def test_intro_phrase_names_their_next_start_and_zone():
    off = av.status_at(utc(2026, 12, 4, 17, 0), "Europe/Berlin", WEEKDAYS, [])
    assert av.intro_phrase(off, "Europe/Berlin") == "Monday 7 December, 09:00 (Europe/Berlin time)"
    on = av.status_at(utc(2026, 12, 4, 10, 0), "Europe/Berlin", WEEKDAYS, [])
    assert av.intro_phrase(on, "Europe/Berlin") == "now"
    sao_paulo = av.status_at(utc(2026, 12, 4, 22, 0), "America/Sao_Paulo", WEEKDAYS, [])
    assert av.intro_phrase(sao_paulo, "America/Sao_Paulo") == "Monday 7 December, 09:00 (America/Sao Paulo time)"


@pytest.mark.parametrize(
    "code, tidy",
    [
        ("pt", "pt"),
        ("PT-br", "pt-BR"),
        ("pt_BR", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("sl-rozaj-biske", "sl-rozaj-biske"),
        ("de-DE-u-co-phonebk", "de-DE-u-co-phonebk"),
        ("en-US-x-twain", "en-US-x-twain"),
        ("yue", "yue"),
    ],
)
def test_language_codes_are_bcp47_in_the_usual_case(code, tidy):
    assert languages.normalise(code) == tidy


@pytest.mark.parametrize(
    "code",
    [
        "",
        "e",
        "english1",
        "toolongcode",
        "en--GB",
        "1pt",
        "x-private",
        "pt-",
        "en-GB-",
        "pt;DROP",
        "pt\u00e9",
        "i-klingon",
        "en-" + "a" * 40,
    ],
)
def test_malformed_language_codes_are_refused(code):
    with pytest.raises(languages.LanguageError, match="BCP 47"):
        languages.normalise(code)


def test_language_lists_and_matching_by_primary_language():
    assert languages.parse_list("pt, en-gb de,pt") == ["pt", "en-GB", "de"]
    assert languages.speaks(["de", "pt-BR"], "pt-PT") == "pt-BR"
    assert languages.speaks(["de"], "pt") is None and languages.speaks(["de"], None) is None
