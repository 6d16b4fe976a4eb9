from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SubmitField
from wtforms.validators import DataRequired, Email, Length

from services import time_zones


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email."), Email("Enter a valid email address.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me logged in on this computer")
    submit = SubmitField("Log in")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired("Enter your current password.")])
    new_password = PasswordField(
        "New password",
        validators=[DataRequired("Enter a new password."), Length(min=10, message="Use at least 10 characters.")],
    )
    submit = SubmitField("Change password")


class ProfileForm(FlaskForm):
    time_zone = SelectField("Time zone", validate_choice=True)
    submit = SubmitField("Save")

    def __init__(self, *args, browser_zone: str = "UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.time_zone.choices = [("", f"Follow this browser (now {browser_zone})")] + [
            (name, name.replace("_", " ")) for name in time_zones.zone_names()
        ]
