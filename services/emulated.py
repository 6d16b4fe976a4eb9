"""Demo helpers that only exist with the built-in 1MSG emulator."""
import requests
from flask import current_app

from services.onemsg_gateway import connection_settings


def is_emulated() -> bool:
    """True with the built-in emulator (also when tests point ONEMSG_API_URL at one)."""
    return not current_app.config["ONEMSG_API_URL"] or current_app.config.get("ONEMSG_EMULATED", False)


def simulate_customer_message(phone: str, body: str) -> None:
    """Make the emulated customer write to us: the emulator posts a messages[] webhook."""
    if not is_emulated():
        raise RuntimeError("customer messages can only be simulated with the emulator")
    base_url, channel_id, token = connection_settings()
    response = requests.post(f"{base_url}/{channel_id}/_emulator/inbound",
                             json={"phone": phone, "body": body},
                             headers={"Authorization": f"Bearer {token}"}, timeout=(3, 10))
    response.raise_for_status()
