from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, ValidationError

from models.specialist import PHONE_TYPES
from services import availability, languages, time_zones
from services.directory import tidy_tags
from services.phones import PhoneError, normalize_phone

WORKING_HOURS_MAX, LANGUAGES_MAX = 300, 200  # the columns' lengths (models/specialist.py)


class SpecialistForm(FlaskForm):
    display_name = StringField(
        "Display name (as the customer sees it)",
        validators=[DataRequired("Enter the name shown on the card."), Length(max=120)],
    )
    first_name = StringField("First name", validators=[Length(max=60)])
    last_name = StringField("Last name", validators=[Length(max=60)])
    phone = StringField(
        "WhatsApp phone (with country code, e.g. +1 202 555 0199)",
        validators=[DataRequired("Enter the specialist's phone number.")],
    )
    phone_type = SelectField("Phone type", choices=[(t, t.title()) for t in PHONE_TYPES], default="CELL")
    email = EmailField("Email", validators=[Optional(), Email("Enter a valid email address."), Length(max=254)])
    organisation = StringField("Organisation", validators=[Length(max=120)])
    department = StringField("Department", validators=[Length(max=120)])
    title = StringField("Job title", validators=[Length(max=120)])
    # Tidied before the length check: the check then measures what is stored (", " between tags).
    tags = StringField(
        "Expertise tags or team (comma separated)",
        filters=[lambda text: tidy_tags(text or "")],
        validators=[
            Length(max=500, message="Tags take at most %(max)d characters, counting the comma and space between tags.")
        ],
    )
    notes = TextAreaField("Notes for agents (not sent to the customer)", validators=[Length(max=2000)])
    time_zone = SelectField("Time zone (where they work)", validate_choice=True)
    working_hours = StringField("Weekly working hours, in their time zone", validators=[Length(max=WORKING_HOURS_MAX)])
    languages = StringField(
        "Languages they can answer in (BCP 47 codes, comma separated)", validators=[Length(max=LANGUAGES_MAX)]
    )
    daily_capacity = IntegerField(
        "Cards a day they can take (empty: no limit)",
        validators=[Optional(), NumberRange(min=1, max=10000, message="A whole number from 1 to 10000, or empty.")],
    )
    active = BooleanField("Active (agents can hand customers to this specialist)", default=True)
    submit = SubmitField("Save")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = [("", "Not set")] + [
            (name, name.replace("_", " ")) for name in time_zones.zone_names()
        ]
        if self.time_zone.data is None:
            self.time_zone.data = ""

    def validate_time_zone(self, field):
        # The choices come from zoneinfo; this also refuses a zone the system's data lacks.
        if field.data and availability.zone_of(field.data) is None:
            raise ValidationError("Pick a time zone from the list.")

    def validate_working_hours(self, field):
        try:
            field.data = availability.format_hours(availability.parse_hours(field.data or ""))
        except availability.HoursError as exc:
            raise ValidationError(str(exc)) from None
        # What is stored is the written-out form ("Mon,Wed 9:00-10:00" becomes two segments), which
        # can be longer than what was typed: past the column's length PostgreSQL would refuse it.
        if len(field.data) > WORKING_HOURS_MAX:
            raise ValidationError(
                f"Written out as they are stored ({field.data[:40]}...), these hours take "
                f"{len(field.data)} characters, more than {WORKING_HOURS_MAX}: give fewer "
                "ranges, or group days with the same hours (Mon-Fri)."
            )
        if field.data and not self.time_zone.data:
            raise ValidationError("Pick their time zone too: the hours are read in it.")

    def validate_languages(self, field):
        try:
            field.data = ", ".join(languages.parse_list(field.data or ""))
        except languages.LanguageError as exc:
            raise ValidationError(str(exc)) from None
        if len(field.data) > LANGUAGES_MAX:  # stored with ", " between codes: longer than "pt de"
            raise ValidationError(
                f"Stored as a comma-separated list, these codes take {len(field.data)} "
                f"characters, more than {LANGUAGES_MAX}: list fewer languages."
            )

    def validate_first_name(self, field):
        # WhatsApp needs a second name field besides the formatted name.
        if not (field.data or "").strip() and not (self.last_name.data or "").strip():
            raise ValidationError("Enter a first or a last name: WhatsApp cards need one besides the display name.")

    def validate_phone(self, field):
        try:
            field.data = normalize_phone(field.data or "", require_mobile=True)
        except PhoneError as exc:
            raise ValidationError(str(exc)) from None


class DirectorySearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("Search by name or tag")


class AbsenceForm(FlaskForm):
    """Days away, in the specialist's own time zone, and who takes their customers meanwhile."""

    starts_on = DateField("First day away", validators=[DataRequired("Enter the first day away.")])
    ends_on = DateField("Last day away", validators=[DataRequired("Enter the last day away.")])
    stand_in_id = SelectField("Stand-in (optional)", coerce=int, default=0)
    note = StringField("Note (optional)", validators=[Length(max=200)])
    submit = SubmitField("Add absence")

    def validate_ends_on(self, field):
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError("The last day away cannot come before the first.")


class RemoveAbsenceForm(FlaskForm):
    submit = SubmitField("Remove")
