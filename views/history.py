"""Team leads: handoff history, SLA figures and charts, CSV export, stuck/failed and the audit trail."""

from flask import Blueprint, Response, render_template, request, stream_with_context

from extensions import htmx
from forms.history import AuditFilterForm, HistoryFilterForm
from models import utcnow
from services import charts, history, sla
from services.audit import SUBJECT_TYPES, AuditFilters, TrailCursor, TrailPage, known_actions, trail_page
from services.database import read_only_transactions
from views.access import requires_role
from views.errors import render_error

bp = Blueprint("history", __name__, url_prefix="/history")

# The history page's fragments, by the id of the element htmx asks to replace: the filters
# replace the results (SLA summary and table), the pager only the table.
HISTORY_FRAGMENTS = {
    "history-results": "partials/history_results.html",
    "history-table": "partials/history_table.html",
}
BAD_CURSOR = "That page link is not valid (it may have been cut short). Start again from the first page."


def _history_form() -> HistoryFilterForm:
    read_only_transactions()
    form = HistoryFilterForm(request.args, history.agent_choices(), history.specialist_choices())
    form.validate()
    return form


def _filter_args(form: HistoryFilterForm) -> dict:
    """The effective filters as URL arguments, so every link keeps the same selection."""
    args = {"date_from": form.date_from.data.isoformat() if form.date_from.data else ""}
    for name, value in (
        ("date_to", form.date_to.data),
        ("agent", form.agent.data),
        ("specialist", form.specialist.data),
        ("status", form.status.data),
        ("reason", form.reason.data),
        ("q", (form.q.data or "").strip()),
    ):
        if value:
            args[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return args


def _invalid(template: str, **context):
    return render_template(template, **context), 400


@bp.route("/")
@requires_role("lead")
def index():
    """Every handoff, newest first, filtered by the URL; htmx swaps the table in place."""
    form = _history_form()
    context = dict(form=form, args=_filter_args(form), page=history.Page())
    if form.errors:
        return _invalid("history/index.html", **context)
    try:
        before = history.Cursor.decode(request.args.get("before"))
        after = history.Cursor.decode(request.args.get("after"))
    except ValueError:
        return render_error(400, BAD_CURSOR)
    context["page"] = history.history_page(form.filters(), before=before, after=after)
    fragment = HISTORY_FRAGMENTS.get(htmx.target) if htmx else None
    return render_template(fragment or "history/index.html", **context)


@bp.route("/sla")
@requires_role("lead")
def sla_figures():
    """SLA figures for the filtered set: a summary fragment for htmx, else the page with charts."""
    form = _history_form()
    if form.errors:
        return _invalid("history/sla.html", form=form, args=_filter_args(form), report=None)
    report = sla.sla_report(form.filters(), detailed=not htmx)
    if htmx:
        return render_template("partials/sla_summary.html", report=report, args=_filter_args(form))
    return render_template(
        "history/sla.html",
        form=form,
        args=_filter_args(form),
        report=report,
        day_chart=charts.day_chart(report.per_day),
        delivery_chart=charts.histogram(report.delivery_histogram),
    )


@bp.route("/export.csv")
@requires_role("lead")
def export():
    """The filtered set as CSV, streamed in keyset batches."""
    form = _history_form()
    if form.errors:
        return render_error(400, "The filters are not valid: " + _first_error(form))
    filename = f"handoffs-{utcnow():%Y%m%d-%H%M}-UTC.csv"  # every time inside is UTC too
    return Response(
        stream_with_context(history.export_csv(form.filters())),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _first_error(form) -> str:
    name, errors = next(iter(form.errors.items()))
    return f"{getattr(form, name).label.text}: {errors[0]}"


@bp.route("/stuck")
@requires_role("lead")
def stuck():
    """Handoffs stuck before delivery, and failures nobody has made good yet, with what to do."""
    read_only_transactions()
    return render_template("history/stuck.html", stuck=history.stuck(), failures=history.failures_needing_action())


@bp.route("/audit")
@requires_role("lead")
def audit():
    """The append-only audit trail, with delivery status changes, filtered and paged by time."""
    read_only_transactions()
    form = AuditFilterForm(request.args, known_actions(), SUBJECT_TYPES)
    context = dict(form=form, page=TrailPage(), args=_audit_args())
    if not form.validate():
        return _invalid("history/audit.html", **context)
    try:
        before = TrailCursor.decode(request.args.get("before"))
    except ValueError:
        return render_error(400, BAD_CURSOR)
    context["page"] = trail_page(_audit_filters(form), before=before)
    if htmx and htmx.target == "audit-table":
        return render_template("partials/audit_table.html", **context)
    return render_template("history/audit.html", **context)


def _audit_filters(form: AuditFilterForm) -> AuditFilters:
    return AuditFilters(
        date_from=form.date_from.data,
        date_to=form.date_to.data,
        actor=(form.actor.data or "").strip(),
        action=form.action.data or "",
        subject_type=form.subject_type.data or "",
        subject_id=(form.subject_id.data or "").strip(),
    )


def _audit_args() -> dict:
    return {key: value for key, value in request.args.items() if key != "before" and value}
