from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from models.ticket import TICKET_STATUS_LABELS
from services import languages
from services.phones import PhoneError, normalize_phone


class TicketForm(FlaskForm):
    external_ref = StringField(
        "Helpdesk reference",
        validators=[
            DataRequired("Enter the helpdesk's ticket reference."),
            Length(max=64),
            Regexp(r"^[\w.:/#-]+$", message="Use letters, digits and . _ - : / # only."),
        ],
    )
    subject = StringField("Subject", validators=[DataRequired("Enter a subject."), Length(max=200)])
    customer_name = StringField(
        "Customer name", validators=[DataRequired("Enter the customer's name."), Length(max=120)]
    )
    customer_phone = StringField(
        "Customer WhatsApp phone (with country code)", validators=[DataRequired("Enter the customer's phone number.")]
    )
    language = StringField("Customer's language (BCP 47 code, e.g. pt or pt-BR; optional)", validators=[Length(max=35)])
    status = SelectField("Status", choices=list(TICKET_STATUS_LABELS.items()), default="open")
    assignee_id = SelectField("Assignee", coerce=int, default=0)
    submit = SubmitField("Save ticket")

    def validate_customer_phone(self, field):
        try:
            field.data = normalize_phone(field.data or "")
        except PhoneError as exc:
            raise ValidationError(str(exc)) from None

    def validate_language(self, field):
        if not (field.data or "").strip():
            field.data = None
            return
        try:
            field.data = languages.normalise(field.data)
        except languages.LanguageError as exc:
            raise ValidationError(str(exc)) from None


class SendCardForm(FlaskForm):
    specialist_id = SelectField(
        "Specialist", coerce=int, validate_choice=False, validators=[DataRequired("Pick a specialist.")]
    )
    idempotency_key = StringField(validators=[DataRequired(), Length(min=8, max=80)])
    include_intro = SelectField(
        "Introduction", choices=[("yes", "Send the introduction first"), ("no", "Card only")], default="yes"
    )
    intro_text = StringField("Introduction text", validators=[Length(max=1000)])
    confirm_resend = StringField()
    # The handoff named in the second-card confirmation the agent accepted (see send_rules).
    confirm_after = IntegerField(validators=[Optional()])
    cancel_pending = StringField()
    # The reason (off_hours, on_leave, over_capacity) the agent saw and accepted (see send_rules).
    confirm_unavailable = StringField(validators=[Optional(), Length(max=16)])
    override_cap = BooleanField("Override the per-customer limit (leads only)")
    submit = SubmitField("Send card")


class SimulateInboundForm(FlaskForm):
    body = StringField(
        "Message from the customer",
        default="Hi, I still need help with this.",
        validators=[DataRequired("Type the customer's message."), Length(max=500)],
    )
    submit = SubmitField("Simulate a message from the customer")


class ReopenForm(FlaskForm):
    specialist_id = SelectField(
        "Specialist", coerce=int, validate_choice=False, validators=[DataRequired("Pick a specialist.")]
    )
    idempotency_key = StringField(validators=[DataRequired(), Length(min=8, max=80)])
    card_on_reply = BooleanField("Send the card automatically when the customer answers", default=True)
    confirm_after = IntegerField(validators=[Optional()])
    confirm_unavailable = StringField(validators=[Optional(), Length(max=16)])
    submit = SubmitField("Send template to reopen the chat")


class RetryForm(FlaskForm):
    # The retry's key is the failed attempt's own (services.handoffs.retry); this one is ignored.
    idempotency_key = StringField(validators=[Optional(), Length(max=80)])
    confirm_after = IntegerField(validators=[Optional()])
    confirm_unavailable = StringField(validators=[Optional(), Length(max=16)])
    submit = SubmitField("Retry as a new attempt")


class CancelFollowUpForm(FlaskForm):
    submit = SubmitField("Cancel the automatic card")


class QueueForm(FlaskForm):
    """The queue's search and filters (GET, changes nothing: no CSRF)."""

    class Meta:
        csrf = False

    q = StringField("Search by ref, customer name or phone", validators=[Length(max=100)])
    ready = BooleanField("Ready")
    window_open = BooleanField("Window open")
    failed = BooleanField("Failed handoff")
    mine = BooleanField("Mine")

    def chosen(self) -> list[str]:
        return [name for name in ("ready", "window_open", "failed", "mine") if self[name].data]
