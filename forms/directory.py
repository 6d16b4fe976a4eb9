from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from models.specialist import PHONE_TYPES
from services.directory import tidy_tags
from services.phones import PhoneError, normalize_phone


class SpecialistForm(FlaskForm):
    display_name = StringField("Display name (as the customer sees it)", validators=[
        DataRequired("Enter the name shown on the card."), Length(max=120)])
    first_name = StringField("First name", validators=[Length(max=60)])
    last_name = StringField("Last name", validators=[Length(max=60)])
    phone = StringField("WhatsApp phone (with country code, e.g. +1 202 555 0199)", validators=[
        DataRequired("Enter the specialist's phone number.")])
    phone_type = SelectField("Phone type", choices=[(t, t.title()) for t in PHONE_TYPES], default="CELL")
    email = EmailField("Email", validators=[Optional(), Email("Enter a valid email address."), Length(max=254)])
    organisation = StringField("Organisation", validators=[Length(max=120)])
    department = StringField("Department", validators=[Length(max=120)])
    title = StringField("Job title", validators=[Length(max=120)])
    # Tidied before the length check: the check then measures what is stored (", " between tags).
    tags = StringField("Expertise tags or team (comma separated)", filters=[lambda text: tidy_tags(text or "")],
                       validators=[Length(max=500, message="Tags take at most %(max)d characters, counting the "
                                                           "comma and space between tags.")])
    notes = TextAreaField("Notes for agents (not sent to the customer)", validators=[Length(max=2000)])
    active = BooleanField("Active (agents can hand customers to this specialist)", default=True)
    submit = SubmitField("Save")

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
