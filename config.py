"""Settings from the environment, with safe development defaults."""

import math
import os
import string
from datetime import timedelta
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


# A SECRET_KEY must carry at least as much randomness as 32 random bytes.
MIN_SECRET_KEY_BITS = 256
CHARACTER_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation)


def secret_key_bits(key: str) -> float:
    """An upper bound of the randomness in a key: its length times the bits of the alphabet its
    characters come from (hex counts 4 bits a character). Generous on purpose, so a low figure
    is a certain refusal; variety and repetition are checked apart."""
    if key and all(c in string.hexdigits for c in key) and (key == key.lower() or key == key.upper()):
        alphabet = 16
    else:
        alphabet = sum(len(chars) for chars in CHARACTER_CLASSES if any(c in chars for c in key))
        alphabet += len({c for c in key if not any(c in chars for chars in CHARACTER_CLASSES)})
    return len(key) * math.log2(alphabet) if alphabet > 1 else 0.0


def secret_key_problem(key: str) -> str | None:
    """Why a SECRET_KEY cannot be trusted to sign sessions, or None."""
    how = "Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'."
    if not key or key == DEFAULT_SECRET_KEY:
        return f"SECRET_KEY is not set (or is the development default): anyone could forge session cookies. {how}"
    bits = secret_key_bits(key)
    if bits < MIN_SECRET_KEY_BITS:
        return (
            f"SECRET_KEY is too weak: {len(key)} characters carry at most {bits:.0f} bits of randomness, "
            f"and at least {MIN_SECRET_KEY_BITS} (32 random bytes) are needed. {how}"
        )
    # A random key uses many different characters and does not repeat itself.
    if len(set(key)) < min(len(key), 16) / 2 or _repeats(key):
        return f"SECRET_KEY is a repeated or low-variety pattern, not a random value. {how}"
    return None


def _repeats(key: str) -> bool:
    return any(key == (key[:period] * (len(key) // period + 1))[: len(key)] for period in range(1, len(key) // 2 + 1))


def default_database_url() -> str:
    return f"sqlite:///{BASE_DIR / 'instance' / 'handoff.db'}"


def normalise_database_url(url: str) -> str:
    """Point postgres URLs at psycopg 3, the driver we install."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Config:
    """Production settings; everything secret comes from the environment."""

    ENV_NAME = "production"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL") or default_database_url())
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    ONEMSG_API_URL = os.environ.get("ONEMSG_API_URL", "")
    # Production must choose: the real 1MSG (ONEMSG_API_URL) or, explicitly, an emulator.
    ONEMSG_EMULATED = _env_bool("ONEMSG_EMULATED", False)
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
    # Circuit breaker (shared by all workers through Redis when REDIS_URL is set, else per
    # process): after this many transport failures in a row
    # (unreachable, 5xx, no answer) calls to 1MSG stop for ONEMSG_BREAKER_RESET_SECONDS.
    ONEMSG_BREAKER_FAIL_MAX = int(os.environ.get("ONEMSG_BREAKER_FAIL_MAX", "5"))
    ONEMSG_BREAKER_RESET_SECONDS = _env_float("ONEMSG_BREAKER_RESET_SECONDS", 30.0)
    # With REDIS_URL the breaker's state is shared by every worker under this Redis key prefix.
    ONEMSG_BREAKER_REDIS_KEY = os.environ.get("ONEMSG_BREAKER_REDIS_KEY", "handoff:1msg-breaker")
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
    # Login throttling (services/login_throttle.py): free failures per account (4x per address),
    # then waits doubling from 1 s up to LOGIN_MAX_DELAY_SECONDS; counts kept this long.
    LOGIN_FREE_FAILURES = int(os.environ.get("LOGIN_FREE_FAILURES", "5"))
    LOGIN_FAILURE_WINDOW_SECONDS = int(os.environ.get("LOGIN_FAILURE_WINDOW_SECONDS", "900"))
    LOGIN_MAX_DELAY_SECONDS = int(os.environ.get("LOGIN_MAX_DELAY_SECONDS", "900"))
    # How many reverse proxies in front of the app set X-Forwarded-For/-Proto (0: none, the
    # client's address is the connection's). Only that many hops are believed.
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
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
    # A login lasts SESSION_HOURS, or REMEMBER_DAYS with "keep me logged in" (server-side rows).
    SESSION_HOURS = _env_float("SESSION_HOURS", 12.0)
    REMEMBER_DAYS = _env_float("REMEMBER_DAYS", 30.0)
    REMEMBER_COOKIE_DURATION = timedelta(days=REMEMBER_DAYS)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None
    MAX_CONTENT_LENGTH = 1024 * 1024
    WEBHOOK_MAX_BYTES = int(os.environ.get("WEBHOOK_MAX_BYTES", 256 * 1024))
    # Who applies stored webhook bodies on PostgreSQL: "process" = `flask handoffs applier`, woken
    # by NOTIFY (the web processes only store); "thread" = a thread in each web process, as on SQLite.
    WEBHOOK_APPLIER = os.environ.get("WEBHOOK_APPLIER", "process")
    WINDOW_LOOKUP_CACHE_SECONDS = int(os.environ.get("WINDOW_LOOKUP_CACHE_SECONDS", "60"))
    RESEND_CONFIRM_MINUTES = int(os.environ.get("RESEND_CONFIRM_MINUTES", "10"))
    RECONCILE_AFTER_SECONDS = int(os.environ.get("RECONCILE_AFTER_SECONDS", "60"))
    STUCK_AFTER_MINUTES = int(os.environ.get("STUCK_AFTER_MINUTES", "15"))
    # SLA targets on the history page: card delivered within 5 min of 1MSG accepting it,
    # and sent within 15 min of the ticket becoming ready for escalation.
    SLA_DELIVERED_WITHIN_SECONDS = int(os.environ.get("SLA_DELIVERED_WITHIN_SECONDS", "300"))
    SLA_READY_TO_ACCEPTED_SECONDS = int(os.environ.get("SLA_READY_TO_ACCEPTED_SECONDS", "900"))
    # How often live parts of pages ask again (htmx polls), in seconds: a handoff's status and the
    # ticket's list of attempts, the ticket page's window (messages, who else is here), the
    # agents' queue, and the channel badge in every page's header.
    STATUS_POLL_SECONDS = 2
    WINDOW_POLL_SECONDS = 5
    QUEUE_REFRESH_SECONDS = 20
    CHANNEL_STATUS_POLL_SECONDS = 60
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
    # Tests that need Redis pass their own URL (a db and key prefix of their own).
    REDIS_URL = ""
    # Tests post forms without tokens; tests/test_security.py turns CSRF back on.
    WTF_CSRF_ENABLED = False
    SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("TEST_DATABASE_URL") or "sqlite://")
    # Fast hashes keep the suite quick; production cost is checked separately.
    PASSWORD_HASH_MEMORY_KIB = 1024
    ONEMSG_API_URL = ""
    ONEMSG_WEBHOOK_SECRET = DEV_WEBHOOK_SECRET
    # No applier process beside the tests: each app applies what it stores (tests of the applier
    # process start one, tests/test_applier_process.py).
    WEBHOOK_APPLIER = "thread"


CONFIGS = {
    "production": Config,
    "development": DevelopmentConfig,
    "testing": TestingConfig,
}


def deployment_problems(config, *, from_environment: bool) -> list[str]:
    """What makes these settings unfit to serve real users (production), each said plainly."""
    if config["ENV_NAME"] == "testing" and from_environment:
        return [
            "APP_ENV=testing turns off CSRF protection and rate limits; it is for the test suite only. "
            "Use APP_ENV=production (or development on your own machine)."
        ]
    if config["ENV_NAME"] != "production":
        return []
    problems = [p for p in [secret_key_problem(config.get("SECRET_KEY") or "")] if p]
    if config.get("DEBUG"):
        problems.append(
            "Debug mode is on (FLASK_DEBUG): it shows code and lets a visitor run commands. "
            "Unset FLASK_DEBUG in production."
        )
    if not config.get("ONEMSG_API_URL") and not config.get("ONEMSG_EMULATED"):
        problems.append(
            "Choose the 1MSG to talk to: set ONEMSG_API_URL (e.g. https://api.1msg.io) for the real "
            "one, or ONEMSG_EMULATED=1 to run on the built-in emulator (nothing reaches WhatsApp)."
        )
    return problems


def config_from_env() -> type[Config]:
    """Pick the settings class named by APP_ENV (production when unset)."""
    name = os.environ.get("APP_ENV", "production").strip().lower()
    if name not in CONFIGS:
        raise RuntimeError(f"APP_ENV={name!r} is not one of {', '.join(CONFIGS)}")
    return CONFIGS[name]
