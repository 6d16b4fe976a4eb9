"""GET filter forms for the leads' history and audit pages (no CSRF: they change nothing)."""

from datetime import timedelta

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional, ValidationError

from models import HANDOFF_STATUSES, utcnow
from services.bounds import DATE_RANGE_MESSAGE, MAX_ID, date_in_range, parse_id
from services.history import FAILURE_CODES, HistoryFilters
from services.phones import PhoneError, normalize_phone

DEFAULT_DAYS = 7


def _optional_int(value):
    """An id from the URL; WTForms turns the ValueError of anything else into a field error."""
    if value in (None, "", "None"):
        return None
    return value if isinstance(value, int) else parse_id(str(value))


class DateRangeMixin:
    def validate_date_from(self, field):
        if field.data and not date_in_range(field.data):
            raise ValidationError(DATE_RANGE_MESSAGE)

    def validate_date_to(self, field):
        if field.data and not date_in_range(field.data):
            raise ValidationError(DATE_RANGE_MESSAGE)
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")


class HistoryFilterForm(DateRangeMixin, FlaskForm):
    class Meta:
        csrf = False

    date_from = DateField("From", validators=[Optional()], format="%Y-%m-%d")
    date_to = DateField("To (inclusive)", validators=[Optional()], format="%Y-%m-%d")
    agent = SelectField("Agent", coerce=_optional_int, validators=[Optional()])
    specialist = SelectField("Specialist", coerce=_optional_int, validators=[Optional()])
    status = SelectField(
        "Status", choices=[("", "Any status")] + [(s, s) for s in HANDOFF_STATUSES], validators=[Optional()]
    )
    reason = SelectField(
        "Failure reason",
        choices=[("", "Any reason")] + [(c, c.replace("_", " ")) for c in FAILURE_CODES],
        validators=[Optional()],
    )
    q = StringField("Ticket reference or customer phone", validators=[Optional(), Length(max=64)])

    def __init__(self, args, agents, specialists):
        super().__init__(args)
        self.agent.choices = [("", "Any agent")] + agents  # "", not None: URLs say agent=, not agent=None
        self.specialist.choices = [("", "Any specialist")] + specialists
        # No "from" in the URL at all means the default week; an empty one means "no limit".
        if "date_from" not in args:
            self.date_from.data = utcnow().date() - timedelta(days=DEFAULT_DAYS - 1)

    def filters(self) -> HistoryFilters:
        search = (self.q.data or "").strip()
        return HistoryFilters(
            date_from=self.date_from.data,
            date_to=self.date_to.data,
            agent_id=self.agent.data,
            specialist_id=self.specialist.data,
            status=self.status.data or None,
            failure_code=self.reason.data or None,
            search=search,
            search_phone=_as_phone(search),
        )


def _as_phone(text: str) -> str | None:
    if not text or not any(ch.isdigit() for ch in text) or any(ch.isalpha() for ch in text):
        return None
    try:
        return normalize_phone(text)
    except PhoneError:
        return None


class AuditFilterForm(DateRangeMixin, FlaskForm):
    class Meta:
        csrf = False

    date_from = DateField("From", validators=[Optional()], format="%Y-%m-%d")
    date_to = DateField("To (inclusive)", validators=[Optional()], format="%Y-%m-%d")
    actor = StringField("Who (email or label)", validators=[Optional(), Length(max=254)])
    action = SelectField("Action", validators=[Optional()])
    subject_type = SelectField("Subject", validators=[Optional()])
    subject_id = StringField("Subject id", validators=[Optional(), Length(max=64)])

    def __init__(self, args, actions, subject_types):
        super().__init__(args)
        self.action.choices = [("", "Any action")] + [(a, a) for a in actions]
        self.subject_type.choices = [("", "Any subject")] + [(s, s) for s in subject_types]

    def validate_subject_id(self, field):
        text = (field.data or "").strip()
        if text.isascii() and text.isdigit() and int(text) > MAX_ID:
            raise ValidationError(f"No subject has an id that large (ids go up to {MAX_ID}).")
