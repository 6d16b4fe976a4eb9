"""Client and emulator for the 1MSG WhatsApp Business API; imports nothing from the app."""

from .cards import CardData, contact_payload, vcard, vcard_filename
from .client import OneMsgClient, SendResult, channel_id_from_token, clean_template_param
from .errors import (
    AuthenticationFailed,
    InvalidRecipient,
    OneMsgError,
    RateLimited,
    Rejected,
    UnknownOutcome,
    UpstreamError,
    UpstreamUnavailable,
    WindowClosed,
)

__all__ = [
    "AuthenticationFailed",
    "CardData",
    "InvalidRecipient",
    "OneMsgClient",
    "OneMsgError",
    "RateLimited",
    "Rejected",
    "SendResult",
    "UnknownOutcome",
    "UpstreamError",
    "UpstreamUnavailable",
    "WindowClosed",
    "channel_id_from_token",
    "clean_template_param",
    "contact_payload",
    "vcard",
    "vcard_filename",
]
