"""Settings from the environment, with safe development defaults."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
# bandit: the known dev value the app refuses outside development
DEFAULT_SECRET_KEY = "dev-only-secret-key-change-me"  # nosec B105
# bandit: development/testing only
DEV_WEBHOOK_SECRET = "dev-webhook-secret-0123456789abcdef0123"  # nosec B105


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def default_database_url() -> str:
    return f"sqlite:///{BASE_DIR / 'instance' / 'handoff.db'}"


def normalise_database_url(url: str) -> str:
    """Point postgres URLs at psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class Config:
    """Production settings; everything secret comes from the environment."""

    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("DATABASE_URL") or default_database_url()
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    ONEMSG_API_URL = os.environ.get("ONEMSG_API_URL", "")
    ONEMSG_CHANNEL_ID = os.environ.get("ONEMSG_CHANNEL_ID", "")
    ONEMSG_TOKEN = os.environ.get("ONEMSG_TOKEN", "")
    # "header" (Authorization: Bearer) or "query" (?token=) for gateways that want it there.
    ONEMSG_TOKEN_IN = os.environ.get("ONEMSG_TOKEN_IN", "header")
    # Where the built-in emulator listens when ONEMSG_API_URL is empty (set by scripts/run).
    ONEMSG_EMULATOR_URL = os.environ.get("ONEMSG_EMULATOR_URL", "http://127.0.0.1:5001")
    ONEMSG_WEBHOOK_SECRET = os.environ.get("ONEMSG_WEBHOOK_SECRET", "")
    # A second secret is accepted while the webhook URL is being rotated.
    ONEMSG_WEBHOOK_SECRET_PREVIOUS = os.environ.get("ONEMSG_WEBHOOK_SECRET_PREVIOUS", "")
    ONEMSG_CONNECT_TIMEOUT = _env_float("ONEMSG_CONNECT_TIMEOUT", 3.0)
    ONEMSG_READ_TIMEOUT = _env_float("ONEMSG_READ_TIMEOUT", 10.0)
    # Circuit breaker (per worker process): after this many transport failures in a row
    # (unreachable, 5xx, no answer) calls to 1MSG stop for ONEMSG_BREAKER_RESET_SECONDS.
    ONEMSG_BREAKER_FAIL_MAX = int(os.environ.get("ONEMSG_BREAKER_FAIL_MAX", "5"))
    ONEMSG_BREAKER_RESET_SECONDS = _env_float("ONEMSG_BREAKER_RESET_SECONDS", 30.0)
    # Where 1MSG should post webhooks; set with `flask onemsg set-webhook`.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
    REDIS_URL = os.environ.get("REDIS_URL", "")
    # Handoff events for the helpdesk: POSTed (signed) here when set; nothing is queued otherwise.
    HELPDESK_WEBHOOK_URL = os.environ.get("HELPDESK_WEBHOOK_URL", "")
    # Standard Webhooks secret: "whsec_<base64>" or any long random string.
    HELPDESK_WEBHOOK_SECRET = os.environ.get("HELPDESK_WEBHOOK_SECRET", "")
    HELPDESK_WEBHOOK_TIMEOUT = _env_float("HELPDESK_WEBHOOK_TIMEOUT", 10.0)
    # First retry after about this many seconds, doubling (with jitter) up to an hour between tries.
    HELPDESK_WEBHOOK_RETRY_BASE_SECONDS = _env_float("HELPDESK_WEBHOOK_RETRY_BASE_SECONDS", 10.0)
    # An event still failing this long after its first attempt is given up (kept for replay).
    HELPDESK_WEBHOOK_GIVE_UP_HOURS = _env_float("HELPDESK_WEBHOOK_GIVE_UP_HOURS", 24.0)
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    LOGIN_ATTEMPTS_PER_MINUTE = int(os.environ.get("LOGIN_ATTEMPTS_PER_MINUTE", "5"))
    # Card sends per agent (POST /tickets/<id>/handoffs), counted in Redis when REDIS_URL is set.
    SEND_LIMIT = os.environ.get("SEND_LIMIT", "30 per minute")
    # Handoffs created per API key (POST /api/v1/handoffs), answered 429 with Retry-After beyond it.
    API_SEND_LIMIT = os.environ.get("API_SEND_LIMIT", "60 per minute")
    # Cards to one customer number, by every path together, unless a lead overrides.
    CUSTOMER_CARD_CAP = int(os.environ.get("CUSTOMER_CARD_CAP", "3"))
    CUSTOMER_CARD_CAP_MINUTES = int(os.environ.get("CUSTOMER_CARD_CAP_MINUTES", "10"))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 1024 * 1024
    WEBHOOK_MAX_BYTES = int(os.environ.get("WEBHOOK_MAX_BYTES", 256 * 1024))
    WINDOW_LOOKUP_CACHE_SECONDS = int(os.environ.get("WINDOW_LOOKUP_CACHE_SECONDS", "60"))
    # How often the agents' queue refreshes itself (htmx poll), in seconds.
    QUEUE_REFRESH_SECONDS = 20
    RESEND_CONFIRM_MINUTES = int(os.environ.get("RESEND_CONFIRM_MINUTES", "10"))
    RECONCILE_AFTER_SECONDS = int(os.environ.get("RECONCILE_AFTER_SECONDS", "60"))
    STUCK_AFTER_MINUTES = int(os.environ.get("STUCK_AFTER_MINUTES", "15"))
    # SLA targets on the history page: card delivered within 5 min of 1MSG accepting it,
    # and sent within 15 min of the ticket becoming ready for escalation.
    SLA_DELIVERED_WITHIN_SECONDS = int(os.environ.get("SLA_DELIVERED_WITHIN_SECONDS", "300"))
    SLA_READY_TO_ACCEPTED_SECONDS = int(os.environ.get("SLA_READY_TO_ACCEPTED_SECONDS", "900"))
    STATUS_POLL_SECONDS = 2
    PASSWORD_HASH_MEMORY_KIB = 65536


class DevelopmentConfig(Config):
    """Local runs: embedded emulator, relaxed cookies, a known dev secret."""

    ENV_NAME = "development"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    ONEMSG_WEBHOOK_SECRET = os.environ.get("ONEMSG_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET)


class TestingConfig(DevelopmentConfig):
    """The test suite: a database from TEST_DATABASE_URL or a temporary SQLite file."""

    ENV_NAME = "testing"
    TESTING = True
    RATELIMIT_ENABLED = False
    # Tests post forms without tokens; tests/test_security.py turns CSRF back on.
    WTF_CSRF_ENABLED = False
    SQLALCHEMY_DATABASE_URI = normalise_database_url(
        os.environ.get("TEST_DATABASE_URL") or "sqlite://"
    )
    # Fast hashes keep the suite quick; production cost is checked separately.
    PASSWORD_HASH_MEMORY_KIB = 1024
    ONEMSG_API_URL = ""
    ONEMSG_WEBHOOK_SECRET = DEV_WEBHOOK_SECRET


CONFIGS = {
    "production": Config,
    "development": DevelopmentConfig,
    "testing": TestingConfig,
}


def config_from_env() -> type[Config]:
    """Pick the settings class named by APP_ENV (production when unset)."""
    name = os.environ.get("APP_ENV", "production").strip().lower()
    if name not in CONFIGS:
        raise RuntimeError(f"APP_ENV={name!r} is not one of {', '.join(CONFIGS)}")
    return CONFIGS[name]
