"""The template that reopens a closed chat: the admins' choice among the channel's approved
templates, what fills its parameters, its preview, and sending it. (onemsg/templates.py reads
1MSG's listing itself; templates/ holds the Jinja pages.)

A template is identified by (name, language) and sent with its listed namespace and language
code. The admins' choice is stored as {"name", "language", "namespace", "params"}, where
`params` names what fills each placeholder of the header, body and URL buttons, in order.
"""

from models import Specialist, Ticket
from onemsg import templates as onemsg_templates
from onemsg.client import SendResult, clean_template_param
from onemsg.errors import OneMsgError, Rejected
from services import settings
from services.app_state import Cached, app_state
from services.onemsg_gateway import client

# What an admin can map each template parameter to.
PARAM_SOURCES = {
    "customer_name": "Customer name",
    "specialist_name": "Specialist name",
    "specialist_phone": "Specialist phone",
    "ticket_ref": "Ticket reference",
}
CACHE_SECONDS = 300


class TemplateMissing(Rejected):
    """The chosen template is no longer among the channel's approved templates."""

    def __init__(self, choice: dict):
        super().__init__(missing_text(choice))


def missing_text(choice: dict) -> str:
    """What the admin (and the agent who hits it) must know and do."""
    return (
        f"The template {choice['name']} ({choice.get('language') or '?'}) is no longer among "
        "the channel's approved templates: an admin must choose another one in Settings."
    )


def available(refresh: bool = False) -> list[dict]:
    """The channel's approved templates, cached for a few minutes."""
    templates, _ = listing(refresh)
    return templates


def listing(refresh: bool = False) -> tuple[list[dict], bool]:
    """(approved templates, whether 1MSG answered): an empty list may mean "could not ask"."""
    state = app_state()
    cached = state.templates
    if not refresh and cached and cached.fresh(CACHE_SECONDS):
        return cached.value, True
    try:
        listed = client().templates()
    except OneMsgError:
        return (cached.value if cached else []), False
    templates = [_normalised(t) for t in listed if onemsg_templates.is_approved(t)]
    state.templates = Cached(templates)
    return templates, True


def forget_listing() -> None:
    """Drop the cached list (1MSG said a template does not exist)."""
    app_state().templates = None


def _normalised(template: dict) -> dict:
    """A listed template with components as a list and the language as its code."""
    return {
        **template,
        "components": onemsg_templates.components_of(template),
        "language": onemsg_templates.language_code(template),
        "key": onemsg_templates.template_key(str(template.get("name")), onemsg_templates.language_code(template)),
    }


def find(templates: list[dict], key: str) -> dict | None:
    """The template with this "name|language" key."""
    return next((t for t in templates if t["key"] == key), None)


def body_text(template: dict) -> str:
    """The header and body, placeholders as written."""
    return onemsg_templates.rendered_text(template, [])


def slot_labels(template: dict) -> list[str]:
    """One label per placeholder, e.g. "Header {{1}}", "Body {{2}}"."""
    return [slot.label for slot in onemsg_templates.slots(template)]


def reopen_choice() -> dict | None:
    """The admins' choice: {"name", "language", "namespace", "params": [source, ...]}, or None."""
    choice = settings.get("reopen_template")
    return choice if isinstance(choice, dict) and choice.get("name") else None


def choice_key(choice: dict | None) -> str:
    return onemsg_templates.template_key(choice["name"], choice.get("language", "")) if choice else ""


def chosen_template(choice: dict) -> tuple[dict | None, bool]:
    """(the listed template, whether 1MSG answered the list): (None, True) means it vanished."""
    templates, answered = listing()
    return find(templates, choice_key(choice)), answered


def parameters(choice: dict, ticket: Ticket, specialist: Specialist) -> list[str]:
    """The template's parameters for this customer and specialist, cleaned for 1MSG."""
    values = {
        "customer_name": ticket.customer_name,
        "specialist_name": specialist.display_name,
        "specialist_phone": specialist.phone,
        "ticket_ref": ticket.external_ref,
    }
    return [clean_template_param(values.get(source, "")) for source in choice.get("params", [])]


def preview(choice: dict, ticket: Ticket, specialist: Specialist) -> str:
    """The message text the customer will read (as far as we know the template)."""
    template, answered = chosen_template(choice)
    if template is None:
        return missing_text(choice) if answered else choice["name"]
    return onemsg_templates.rendered_text(template, parameters(choice, ticket, specialist))


def send(phone: str, choice: dict, params: list[str]) -> SendResult:
    """Send the chosen template with its namespace and language code, each placeholder filled.

    Raises TemplateMissing when 1MSG's list no longer has it; when the list cannot be read,
    the stored namespace is used and 1MSG's answer decides.
    """
    template, answered = chosen_template(choice)
    if template is None and answered:
        raise TemplateMissing(choice)
    placeholders = " ".join("{{" + str(n) + "}}" for n in range(1, len(params) + 1))  # {{1}} {{2}} ...
    template = template or {
        "components": [{"type": "BODY", "text": placeholders}],
        "namespace": choice.get("namespace"),
    }
    try:
        components = onemsg_templates.build_params(template, params)
    except ValueError as exc:
        raise Rejected(f"{exc}: an admin must map every placeholder of the template in Settings.") from None
    namespace = template.get("namespace") or choice.get("namespace")
    if not namespace or not choice.get("language"):
        raise Rejected(
            "The template's namespace or language is not known (1MSG's template list "
            "could not be read): try again in a minute, or ask an admin to choose "
            "the template again in Settings."
        )
    try:
        return client().send_template(phone, choice["name"], choice["language"], components, namespace=namespace)
    except Rejected as exc:
        if exc.meta_code == 132001 or "not defined" in str(exc).lower():
            forget_listing()  # the next page or send reads the list again
        raise
