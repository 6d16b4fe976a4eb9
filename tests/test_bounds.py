"""Numbers and dates in the leads' URLs: out of range is a 400 that says why, never a 500."""

import csv
import io
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.history import defuse_formula
from tests.history_factories import add_handoff

FIXTURES_OK = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
PAGES = ("/history/", "/history/sla", "/history/audit", "/history/export.csv")


@pytest.fixture
def lead_client(client, auth):
    auth.login("lead")
    return client


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize(
    "query",
    ["date_to=9999-12-31", "date_from=9999-12-31&date_to=9999-12-31", "date_from=0001-01-01", "date_to=1999-12-31"],
)
def test_dates_out_of_range_are_a_400_with_a_message(lead_client, path, query):
    response = lead_client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert "Enter a date between 2000-01-01 and 2999-12-31" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/history/", "/history/export.csv", "/history/sla"])
def test_the_last_accepted_date_works(lead_client, path):
    assert lead_client.get(f"{path}?date_from=2000-01-01&date_to=2999-12-31").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "before=2026-01-01T00:00:00_99999999999999999999",
        "after=2026-01-01T00:00:00_2147483648",
        "before=2026-01-01T00:00:00_-1",
        "before=9999-12-31T23:59:59_1",
        "after=2026-01-01T00:00:00+05:00_1",
        "before=2026-01-01T00:00:00_\u0663",
    ],
)
def test_huge_or_odd_history_cursors_are_a_400(lead_client, query):
    response = lead_client.get(f"/history/?{query}")
    assert response.status_code == 400
    assert "That page link is not valid" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["before=2026-01-01T00:00:00_audit_99999999999999999999", "before=2026-01-01T00:00:00_status_2147483648"]
)
def test_huge_audit_cursors_are_a_400(lead_client, query):
    assert lead_client.get(f"/history/audit?{query}").status_code == 400


def test_a_huge_audit_subject_id_is_a_400_with_a_message(lead_client):
    response = lead_client.get("/history/audit?subject_id=99999999999999999999")
    assert response.status_code == 400
    assert "No subject has an id that large" in response.get_data(as_text=True)


@pytest.mark.parametrize("subject_id", ["2147483647", "\u00b2", "\u0663", "intro_text"])
def test_odd_audit_subject_ids_just_find_nothing(lead_client, subject_id):
    assert lead_client.get(f"/history/audit?subject_id={subject_id}").status_code == 200


@pytest.mark.parametrize("field", ["agent", "specialist"])
@pytest.mark.parametrize("value", ["99999999999999999999", "2147483648", "-1", "1e3"])
def test_huge_agent_or_specialist_ids_are_a_400(lead_client, field, value):
    assert lead_client.get(f"/history/?{field}={value}").status_code == 400


numbers = st.integers(min_value=-(10**30), max_value=10**30).map(str)
dates = st.dates().map(str) | st.text(max_size=12)
cursor = st.builds(
    lambda d, i, k: f"{d}_{k}{i}",
    st.datetimes().map(datetime.isoformat),
    numbers,
    st.sampled_from(["", "audit_", "status_"]),
) | st.text(max_size=40)
args = st.fixed_dictionaries(
    {},
    optional={
        "date_from": dates,
        "date_to": dates,
        "agent": numbers,
        "specialist": numbers,
        "before": cursor,
        "after": cursor,
        "subject_id": numbers | st.text(max_size=70),
    },
)


@FIXTURES_OK
@given(query=args, path=st.sampled_from(PAGES))
def test_any_lead_query_is_answered_never_a_500(lead_client, query, path):
    response = lead_client.get(path, query_string=query)
    assert response.status_code in (200, 400), (path, query, response.status_code)
    if response.status_code == 200 and path.endswith(".csv"):
        text = response.get_data(as_text=True)
        assert text.lstrip("\ufeff").startswith("handoff_id,") and text.endswith("\n")


# --- the CSV formula guard --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cell, safe",
    [
        ("Undeliverable;=cmd|' /C calc'!A0;", "Undeliverable;'=cmd|' /C calc'!A0;"),
        ("a,=1+1", "a,'=1+1"),
        ("a\t@SUM(A1)", "a\t'@SUM(A1)"),
        ("x; -2+3", "x; '-2+3"),
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+cmd", "'+cmd"),
        ("\tleading tab", "'\tleading tab"),
        ("\rleading CR", "'\rleading CR"),
        ("a;\t=b", "a;'\t'=b"),
        ("+14155552671", "+14155552671"),
        ("plain text; nothing odd", "plain text; nothing odd"),
    ],
)
def test_the_formula_guard_covers_every_separator(cell, safe):
    assert defuse_formula(cell) == safe


SEPARATORS = [",", ";", "\t"]


@FIXTURES_OK
@given(text=st.text(alphabet=st.sampled_from(list("=+-@\t\r,; ab'\"")), max_size=30))
def test_no_piece_of_an_exported_cell_starts_a_formula(text):
    """Split the exported text on any separator, as a spreadsheet would: no piece is a formula."""
    out = defuse_formula(text)
    for sep in SEPARATORS:
        for piece in out.split(sep):
            assert piece.lstrip(" ")[:1] not in ("=", "+", "-", "@", "\t", "\r"), (text, out, sep, piece)
    assert out.replace("'", "") == text.replace("'", ""), "nothing but apostrophes is added"


def test_a_semicolon_formula_in_a_failure_reason_is_defused_in_the_export(lead_client, make_ticket, make_specialist):
    add_handoff(
        make_ticket(),
        make_specialist(),
        status="failed",
        failure_code="delivery_failed",
        failure_reason="Undeliverable;=cmd|' /C calc'!A0;",
        created_at=datetime(2026, 11, 1),
    )
    text = lead_client.get("/history/export.csv?date_from=2026-11-01&date_to=2026-11-01").get_data(as_text=True)
    for sep in SEPARATORS:
        cells = [cell for line in text.splitlines() for cell in line.split(sep)]
        assert not any(cell.lstrip(' "')[:1] == "=" for cell in cells), sep
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["failure_reason"] == "Undeliverable;'=cmd|' /C calc'!A0;"
