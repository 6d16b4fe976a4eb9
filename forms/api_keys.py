from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length


class NewApiKeyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Name the key, e.g. after the helpdesk."), Length(max=80)])
    role = SelectField(
        "Role",
        choices=[("agent", "Agent: create tickets and handoffs, and read"), ("lead", "Lead: read only")],
        default="agent",
    )
    # One-time token: a form sent again (a reload of the answer) makes no second key.
    once = HiddenField()
    submit = SubmitField("Create key")
