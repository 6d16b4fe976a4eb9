"""Keep the 1MSG token and webhook secrets out of every log line."""

import logging

REDACTED = "[redacted]"


class SecretRedactingFilter(logging.Filter):
    """Replace configured secrets in a record's final message."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 6]

    def add(self, secrets: list[str]) -> None:
        """Also hide these (another app of the same process, e.g. in tests, has its own)."""
        self.secrets = list(dict.fromkeys(self.secrets + [s for s in secrets if s and len(s) >= 6]))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, REDACTED)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_redaction(app) -> None:
    """Attach the filter to every handler of the root logger and of werkzeug's."""
    secrets = [
        app.config.get(key, "")
        for key in (
            "ONEMSG_TOKEN",
            "ONEMSG_WEBHOOK_SECRET",
            "ONEMSG_WEBHOOK_SECRET_PREVIOUS",
            "SECRET_KEY",
            "HELPDESK_WEBHOOK_SECRET",
        )
    ]
    log_filter = SecretRedactingFilter(secrets)
    for logger in (
        logging.getLogger(),
        logging.getLogger("werkzeug"),
        app.logger,
        logging.getLogger("gunicorn.access"),
        logging.getLogger("gunicorn.error"),
    ):
        for handler in logger.handlers:
            existing = next((f for f in handler.filters if isinstance(f, SecretRedactingFilter)), None)
            if existing is None:
                handler.addFilter(log_filter)
            else:
                # Records of other loggers (urllib3, onemsg...) are only filtered here, at the handler.
                existing.add(secrets)
        logger.addFilter(log_filter)
