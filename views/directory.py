"""The specialist directory: admins edit, agents search and preview cards."""

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from extensions import htmx
from forms.directory import AbsenceForm, DirectorySearchForm, RemoveAbsenceForm, SpecialistForm
from models import Absence, Specialist, db
from services import directory, specialist_board
from services.database import unit_of_work
from services.specialist_cards import card_payload, vcard_file
from views.access import requires_role

bp = Blueprint("directory", __name__, url_prefix="/directory")


def _load(specialist_id: int) -> Specialist:
    specialist = db.session.get(Specialist, specialist_id)
    if specialist is None or (not specialist.active and not current_user.has_role("admin")):
        abort(404)
    return specialist


@bp.route("/")
@requires_role("agent")
def index():
    """Search the directory by name or tag (the table updates in place with htmx)."""
    form = DirectorySearchForm(request.args)
    show_all = current_user.has_role("admin") and request.args.get("show") == "all"
    specialists = directory.search(form.q.data or "", include_inactive=show_all)
    if htmx and htmx.target == "specialist-table":
        return render_template("partials/specialist_table.html", specialists=specialists)
    return render_template("directory/index.html", form=form, specialists=specialists, show_all=show_all)


@bp.route("/<int:specialist_id>")
@requires_role("agent")
def show(specialist_id: int):
    """The card as the customer will see it."""
    specialist = _load(specialist_id)
    if htmx:
        return render_template("partials/card_preview.html", specialist=specialist, card=card_payload(specialist))
    return _show_page(specialist, _absence_form(specialist))


def _show_page(specialist: Specialist, absence_form: AbsenceForm, status: int = 200):
    return render_template(
        "directory/show.html",
        specialist=specialist,
        card=card_payload(specialist),
        now=specialist_board.one(specialist),
        absence_form=absence_form,
        remove_form=RemoveAbsenceForm(),
    ), status


def _absence_form(specialist: Specialist, **kwargs) -> AbsenceForm:
    form = AbsenceForm(**kwargs)
    others = db.session.scalars(
        select(Specialist)
        .where(Specialist.active.is_(True), Specialist.id != specialist.id)
        .order_by(Specialist.display_name)
    ).all()
    form.stand_in_id.choices = [(0, "Nobody")] + [(s.id, s.display_name) for s in others]
    return form


@bp.route("/<int:specialist_id>/absences", methods=["POST"])
@requires_role("admin")
def add_absence(specialist_id: int):
    """Record days away, with an optional stand-in."""
    specialist = db.session.get(Specialist, specialist_id) or abort(404)
    form = _absence_form(specialist)
    if not form.validate_on_submit():
        return _show_page(specialist, form, 400)
    with unit_of_work():
        directory.add_absence(specialist, form.data, current_user._get_current_object())
    starts, ends = form.starts_on.data, form.ends_on.data
    flash(f"{specialist.display_name} is away {starts.day} {starts:%b} to {ends.day} {ends:%b %Y}.", "success")
    return redirect(url_for("directory.show", specialist_id=specialist.id, _anchor="absences"))


@bp.route("/<int:specialist_id>/absences/<int:absence_id>/remove", methods=["POST"])
@requires_role("admin")
def remove_absence(specialist_id: int, absence_id: int):
    """Remove an absence entered by mistake or called off."""
    absence = db.session.get(Absence, absence_id)
    if absence is None or absence.specialist_id != specialist_id:
        abort(404)
    if RemoveAbsenceForm().validate_on_submit():
        with unit_of_work():
            directory.remove_absence(absence, current_user._get_current_object())
        flash("Absence removed.", "success")
    else:
        flash("The form expired: reload the page and try again.", "error")
    return redirect(url_for("directory.show", specialist_id=specialist_id, _anchor="absences"))


@bp.route("/preview")
@requires_role("agent")
def preview():
    """The card preview for ?specialist_id= (the send form's picker loads it with htmx)."""
    specialist = _load(request.args.get("specialist_id", 0, type=int))
    if not htmx:
        return redirect(url_for("directory.show", specialist_id=specialist.id))
    return render_template("partials/card_preview.html", specialist=specialist, card=card_payload(specialist))


@bp.route("/<int:specialist_id>/vcard")
@requires_role("agent")
def download_vcard(specialist_id: int):
    """The same card as a vCard 3.0 file."""
    text, filename = vcard_file(_load(specialist_id))
    return Response(
        text,
        mimetype="text/vcard; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/new", methods=["GET", "POST"])
@requires_role("admin")
def new():
    """Add a specialist (an exact duplicate needs a second, explicit yes)."""
    form = SpecialistForm()
    duplicates = []
    if form.validate_on_submit():
        duplicates = _unconfirmed_duplicates(form)
        if not duplicates:
            with unit_of_work():
                specialist = directory.create(form.data, current_user._get_current_object())
            flash(f"Added {specialist.display_name}.", "success")
            return redirect(url_for("directory.show", specialist_id=specialist.id))
    return _form_page(form, None, duplicates)


@bp.route("/<int:specialist_id>/edit", methods=["GET", "POST"])
@requires_role("admin")
def edit(specialist_id: int):
    """Change a specialist, or deactivate them (their history stays)."""
    specialist = db.session.get(Specialist, specialist_id) or abort(404)
    form = SpecialistForm(obj=specialist)
    duplicates = []
    if form.validate_on_submit():
        duplicates = _unconfirmed_duplicates(form, specialist.id)
        if not duplicates:
            with unit_of_work():
                directory.update(specialist, form.data, current_user._get_current_object())
            flash(f"Saved {specialist.display_name}.", "success")
            return redirect(url_for("directory.show", specialist_id=specialist.id))
    return _form_page(form, specialist, duplicates)


def _unconfirmed_duplicates(form: SpecialistForm, exclude_id: int | None = None) -> list[Specialist]:
    if request.form.get("save_anyway") == "yes":
        return []
    return directory.exact_duplicates(form.display_name.data, form.phone.data, exclude_id=exclude_id)


def _form_page(form: SpecialistForm, specialist: Specialist | None, duplicates: list[Specialist]):
    status = 409 if duplicates else 400 if form.errors else 200
    return render_template("directory/form.html", form=form, specialist=specialist, duplicates=duplicates), status
