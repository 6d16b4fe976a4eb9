from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, Length, Optional

from models import ROLES

ROLE_CHOICES = [(role, role.capitalize()) for role in ROLES]


class NewUserForm(FlaskForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter an email."), Email("Enter a valid email address."), Length(max=254)]
    )
    name = StringField("Display name", validators=[DataRequired("Enter a name."), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    password = PasswordField(
        "Initial password",
        validators=[DataRequired("Enter an initial password."), Length(min=10, message="Use at least 10 characters.")],
    )
    submit = SubmitField("Create user")


class EditUserForm(FlaskForm):
    name = StringField("Display name", validators=[DataRequired("Enter a name."), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active (can log in)")
    new_password = PasswordField(
        "Set a new password (optional; ends the user's sessions)",
        validators=[Optional(), Length(min=10, message="Use at least 10 characters.")],
    )
    submit = SubmitField("Save")
