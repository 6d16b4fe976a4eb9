from flask_wtf import FlaskForm
from wtforms import FieldList, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from services.reopen_templates import PARAM_SOURCES

PARAM_CHOICES = [("", "(choose)")] + list(PARAM_SOURCES.items())
MAX_TEMPLATE_PARAMS = 20


class SettingsForm(FlaskForm):
    intro_text = TextAreaField(
        "Default introduction sent before the card",
        validators=[DataRequired("Enter the introduction text."), Length(max=1000)],
    )
    # "name|language": a template is identified by both; the choices come from 1MSG's list.
    template = SelectField("Template that reopens a closed chat", choices=[], validate_choice=False)
    # One select per placeholder of the chosen template (header, body, URL buttons), in order.
    params = FieldList(SelectField("Parameter", choices=PARAM_CHOICES), min_entries=0, max_entries=MAX_TEMPLATE_PARAMS)
    submit = SubmitField("Save settings")

    def param_values(self) -> list[str]:
        return [entry.data or "" for entry in self.params]

    def show_params(self, labels: list[str], values: list[str]) -> None:
        """Give the form one labelled select per placeholder, keeping values already chosen."""
        while len(self.params):
            self.params.pop_entry()
        for index, label in enumerate(labels):
            entry = self.params.append_entry(values[index] if index < len(values) else "")
            entry.label.text = f"What fills {label}"
