"""Demo helpers that only exist with the built-in 1MSG emulator."""

from flask import current_app

from onemsg.client import emulator_inbound
from onemsg.errors import OneMsgError
from services.onemsg_gateway import connection_settings


class EmulatorError(Exception):
    """The emulator did not take a demo call (not running, or it refused); the text says which."""


def is_emulated() -> bool:
    """True with the built-in emulator (also when tests point ONEMSG_API_URL at one)."""
    return not current_app.config["ONEMSG_API_URL"] or current_app.config.get("ONEMSG_EMULATED", False)


def simulate_customer_message(phone: str, body: str) -> None:
    """Make the emulated customer write to us: the emulator posts a messages[] webhook.

    Raises EmulatorError when the emulator does not take it, so callers need no HTTP library.
    """
    if not is_emulated():
        raise RuntimeError("customer messages can only be simulated with the emulator")
    try:
        emulator_inbound(*connection_settings(), phone, body)
    except OneMsgError as exc:
        raise EmulatorError(exc.message) from exc
