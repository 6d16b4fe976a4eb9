"""The app's one 1MSG client, built from settings (one requests.Session per app),
behind a circuit breaker that stops calling 1MSG for a while when it keeps failing."""

from datetime import UTC, datetime

import pybreaker
import redis
from flask import current_app

from onemsg.client import OneMsgClient, channel_id_from_token
from onemsg.errors import OneMsgError, UnknownOutcome, UpstreamError
from services.app_state import Cached, app_state

EMULATOR_CHANNEL_ID = "100000"
# bandit: the local emulator's token, not a credential
EMULATOR_TOKEN = "dev-token"  # nosec B105


def connection_settings() -> tuple[str, str, str]:
    """(base URL, channel id, token): the real service, or the emulator's defaults.

    The channel id is ONEMSG_CHANNEL_ID, else the `instanceId` inside a JWT channel key; the
    emulator's default channel only when neither gives one.
    """
    config = current_app.config
    token = config["ONEMSG_TOKEN"] or EMULATOR_TOKEN
    channel = config["ONEMSG_CHANNEL_ID"] or channel_id_from_token(token) or EMULATOR_CHANNEL_ID
    return (config["ONEMSG_API_URL"] or config.get("ONEMSG_EMULATOR_URL") or "http://127.0.0.1:5001", channel, token)


PAUSED_STATUS = "paused (1MSG failing)"


class CircuitOpen(OneMsgError):
    """1MSG kept failing, so we are not calling it until the pause is over: nothing was sent."""

    code = "circuit_open"

    def __init__(self, seconds: float):
        self.retry_after = max(1, round(seconds))
        super().__init__(f"1MSG has been failing; sending is paused for {self.retry_after} s to let it recover.")


def _counts_as_failure(exc: BaseException) -> bool:
    """Only transport trouble trips the breaker; a refusal (closed window...) proves 1MSG is up."""
    return isinstance(exc, (UpstreamError, UnknownOutcome))


class Breaker:
    """pybreaker's state machine, fed with outcomes after each call.

    pybreaker's own call() holds a process-wide lock for the whole call, which would
    serialise every 1MSG call of a threaded worker behind one slow answer; so the call
    runs outside it and only its outcome is replayed through the breaker.
    """

    def __init__(self, fail_max: int, reset_seconds: float, storage: pybreaker.CircuitBreakerStorage | None = None):
        self.storage = storage or pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_seconds,
            state_storage=self.storage,
            exclude=[lambda exc: not _counts_as_failure(exc)],
            throw_new_error_on_trip=False,
            name="1msg",
        )

    def paused_for(self) -> float:
        """Seconds left before a trial call may go out (0 when calls are allowed)."""
        if self.breaker.current_state != pybreaker.STATE_OPEN or self.storage.opened_at is None:
            return 0.0
        elapsed = (datetime.now(UTC) - self.storage.opened_at).total_seconds()
        return max(0.0, self.breaker.reset_timeout - elapsed)

    def record(self, error: BaseException | None) -> None:
        """Count one call's outcome (None: it succeeded)."""

        def replay():
            if error is not None:
                raise error

        try:
            self.breaker.call(replay)
        except (pybreaker.CircuitBreakerError, OneMsgError):
            pass  # the caller already has the real error; the breaker only counts it

    def guarded(self, call, *args, **kwargs):
        """Make one 1MSG call unless the breaker is open; count how it went."""
        if (seconds := self.paused_for()) > 0:
            raise CircuitOpen(seconds)
        try:
            result = call(*args, **kwargs)
        except OneMsgError as exc:
            self.record(exc)
            raise
        self.record(None)
        return result


def breaker() -> Breaker:
    """This app's breaker. Its state (failures in a row, open since) lives in Redis when
    REDIS_URL is set, so every worker process pauses together; else in this process only."""
    state = app_state()
    if state.onemsg_breaker is None:
        config = current_app.config
        state.onemsg_breaker = Breaker(
            config["ONEMSG_BREAKER_FAIL_MAX"], config["ONEMSG_BREAKER_RESET_SECONDS"], _shared_storage(config)
        )
    return state.onemsg_breaker


def _shared_storage(config) -> pybreaker.CircuitBreakerStorage | None:
    if not config.get("REDIS_URL"):
        return None
    # Short timeouts: a slow Redis must not hold sends; if it is down pybreaker counts as closed.
    connection = redis.Redis.from_url(config["REDIS_URL"], socket_timeout=0.5, socket_connect_timeout=0.5)
    return pybreaker.CircuitRedisStorage(
        pybreaker.STATE_CLOSED, connection, namespace=config["ONEMSG_BREAKER_REDIS_KEY"]
    )


def client() -> OneMsgClient:
    """The client for this app, created on first use; every call (the one place each goes
    through, a garbled 2xx body not counted) passes the app's breaker via call_wrapper."""
    state = app_state()
    if state.onemsg_client is None:
        config = current_app.config
        state.onemsg_client = OneMsgClient(
            *connection_settings(),
            connect_timeout=config["ONEMSG_CONNECT_TIMEOUT"],
            read_timeout=config["ONEMSG_READ_TIMEOUT"],
            token_in=config.get("ONEMSG_TOKEN_IN") or "header",
            call_wrapper=breaker().guarded,
        )
    return state.onemsg_client


def channel_status(max_age: float = 30.0) -> str:
    """1MSG's channel status, cached briefly so pages do not call 1MSG each time."""
    if breaker().paused_for() > 0:
        return PAUSED_STATUS
    state = app_state()
    if state.channel_status and state.channel_status.fresh(max_age):
        return state.channel_status.value
    try:
        status = str(client().channel_status().get("status", "unknown"))
    except OneMsgError as exc:
        status = f"unreachable ({exc.code})"
    state.channel_status = Cached(status)
    return status
