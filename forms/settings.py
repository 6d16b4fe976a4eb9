from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from services.templates import PARAM_SOURCES

PARAM_CHOICES = [("", "(not used)")] + list(PARAM_SOURCES.items())


class SettingsForm(FlaskForm):
    intro_text = TextAreaField("Default introduction sent before the card", validators=[
        DataRequired("Enter the introduction text."), Length(max=1000)])
    template_name = SelectField("Template that reopens a closed chat", choices=[], validate_choice=False)
    template_language = StringField("Template language code", default="en", validators=[Length(max=10)])
    param_1 = SelectField("Parameter {{1}}", choices=PARAM_CHOICES)
    param_2 = SelectField("Parameter {{2}}", choices=PARAM_CHOICES)
    param_3 = SelectField("Parameter {{3}}", choices=PARAM_CHOICES)
    submit = SubmitField("Save settings")

    def params(self) -> list[str]:
        """The mapping in order, stopping at the first unused parameter."""
        chosen = []
        for value in (self.param_1.data, self.param_2.data, self.param_3.data):
            if not value:
                break
            chosen.append(value)
        return chosen
