"""Specialist Handoff: the application factory."""

import logging

from flask import Flask, abort, g, jsonify, make_response, render_template, request, session
from flask_login import current_user, login_user, user_loaded_from_cookie
from sqlalchemy.exc import DBAPIError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from cli import register_commands
from config import Config, config_from_env, deployment_problems
from extensions import csrf, htmx, limiter, login_manager, migrate, skip_limiter_on_exempt_views
from models import User, db
from onemsg.client import TOKEN_PLACES, channel_id_from_token
from services import app_state, sessions
from services.database import configure_engine, discard_transaction, end_session_quietly, unit_of_work
from services.emulated import is_emulated
from services.log_redaction import install_redaction
from views import BLUEPRINTS, assets
from views.access import enforce_access, mark_read_only_requests
from views.errors import register_error_handlers, wants_json
from views.navigation import register_template_helpers
from views.webhooks import WebhookReceiver

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)


class InsecureConfiguration(RuntimeError):
    """The app was asked to run outside development with settings only fit for it."""


class HandoffApp(Flask):
    """Flask, with one transparent retry of a read whose database connection dropped.

    pool_pre_ping only tests a connection when it leaves the pool; one the database closes
    while a request is using it (a restart, a failover, pg_terminate_backend) fails that
    request. A GET or HEAD is run again once on a fresh connection; other requests get a 503
    that says nothing was lost and to try again (sends are idempotent, a retry never sends twice).
    """

    def handle_user_exception(self, e):
        if not is_connection_drop(e):
            return super().handle_user_exception(e)
        discard_transaction()  # the dead connection goes; the pool gives a tested one next
        if request.method in ("GET", "HEAD") and not g.get("retried_after_connection_drop"):
            g.retried_after_connection_drop = True
            self.logger.warning(
                "database connection dropped during %s %s; running it again", request.method, request.path
            )
            try:
                return self.preprocess_request() or self.dispatch_request()
            except Exception as again:  # a second failure is handled as any error is
                return self.handle_user_exception(again)
        self.logger.warning("database connection dropped during %s %s", request.method, request.path)
        return database_interrupted()


def database_interrupted():
    """503 that needs no database (the error page's header would load the user again)."""
    message = (
        "The connection to the database was interrupted. Try again in a moment "
        "(a card sent again is recognised, never sent twice)."
    )
    if wants_json():
        response = jsonify(error={"code": "503", "message": message, "fields": {}})
    else:
        response = make_response(render_template("errors/database_interrupted.html", message=message))
    response.status_code = 503
    response.headers["Retry-After"] = "1"
    return response


def is_connection_drop(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def create_app(config: type[Config] | dict | None = None) -> Flask:
    """Build the app from a settings class, a dict of overrides, or the environment."""
    app = HandoffApp(__name__, instance_relative_config=True)
    load_config(app, config)
    check_production_settings(app, from_environment=config is None)
    mount_webhook_receiver(app)
    trust_proxies(app)
    configure_logging(app)
    init_extensions(app)
    register_blueprints(app)
    register_hooks(app)
    register_cli(app)
    return app


def load_config(app: Flask, config) -> None:
    base = config if isinstance(config, type) else config_from_env()
    app.config.from_object(base)
    if isinstance(config, dict):
        app.config.update(config)
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    # The "remember me" cookie is a login too: HTTPS-only whenever the session cookie is.
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config["SESSION_COOKIE_SECURE"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)


def check_production_settings(app: Flask, *, from_environment: bool = False) -> None:
    """Refuse to start a deployment with settings only fit for development or tests, saying why."""
    if problems := deployment_problems(app.config, from_environment=from_environment):
        raise InsecureConfiguration("The app refuses to start:\n- " + "\n- ".join(problems))
    if app.config["ENV_NAME"] in ("development", "testing"):
        return
    if app.config["ONEMSG_API_URL"]:
        check_onemsg_settings(app.config)
        check_onemsg_channel(app.config)


def check_onemsg_settings(config) -> None:
    """With the real 1MSG, a missing token or a guessable webhook secret is refused at start."""
    if not config["ONEMSG_TOKEN"]:
        raise InsecureConfiguration("ONEMSG_API_URL is set but ONEMSG_TOKEN is not: set the 1MSG API token.")
    for key in ("ONEMSG_WEBHOOK_SECRET", "ONEMSG_WEBHOOK_SECRET_PREVIOUS"):
        secret = config.get(key) or ""
        if (secret or key == "ONEMSG_WEBHOOK_SECRET") and len(secret) < 32:
            raise InsecureConfiguration(
                f"{key} must be at least 32 random characters (1MSG does not sign webhooks, so this secret "
                "in the URL is what keeps strangers out), e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))'."
            )


def check_onemsg_channel(config) -> None:
    """With the real 1MSG, every call needs a channel id: from the settings or the JWT key."""
    if not (config["ONEMSG_CHANNEL_ID"] or channel_id_from_token(config["ONEMSG_TOKEN"])):
        raise InsecureConfiguration(
            "ONEMSG_API_URL is set but no 1MSG channel id is known: set ONEMSG_CHANNEL_ID, or use a "
            "JWT channel key whose instanceId names the channel."
        )
    if config.get("ONEMSG_TOKEN_IN", "header") not in TOKEN_PLACES:
        raise InsecureConfiguration(f"ONEMSG_TOKEN_IN must be one of {', '.join(TOKEN_PLACES)}.")


def mount_webhook_receiver(app: Flask) -> None:
    """1MSG's webhook POSTs are answered in front of Flask (views/webhooks.py says why); mounted
    before ProxyFix wraps the app, so the body's source is the client behind the proxies."""
    app.wsgi_app = WebhookReceiver(app, app.wsgi_app)


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client's address and scheme from their
    X-Forwarded-* headers (Werkzeug's ProxyFix), so throttles count clients, not the proxy."""
    if hops := app.config["TRUSTED_PROXIES"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)


def configure_logging(app: Flask) -> None:
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_redaction(app)


def init_extensions(app: Flask) -> None:
    app_state.install(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    skip_limiter_on_exempt_views(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to open that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    # Registered after Flask-SQLAlchemy's own teardown, so it runs first (teardowns run in reverse).
    app.teardown_appcontext(end_session_quietly)
    with app.app_context():
        configure_engine(db.engine)


@login_manager.user_loader
def load_user(cookie: str) -> User | None:
    """The user of the live server-side session the cookie names; a logged-out one opens nothing."""
    return sessions.load(cookie)


@user_loaded_from_cookie.connect
def rotate_remember_token(app, user: User) -> None:
    """A "remember me" cookie opened this session: replace its token, so a copy of it soon stops working."""
    with unit_of_work():
        sessions.rotate(user)
    login_user(user, remember=True)  # new _user_id in the session, new remember cookie in the response
    session["_fresh"] = False


class RowIdConverter(IntegerConverter):
    """`<int:...>` in our routes is a row id: a number past a 64-bit column is a 404, where the
    database would raise an overflow (a 500) on the lookup."""

    def __init__(self, map, fixed_digits=0, min=None, max=2**63 - 1, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(map, fixed_digits, min, max, signed)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = RowIdConverter  # before the rules are added: they bind it then
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    assets.init_app(app)


def register_hooks(app: Flask) -> None:
    app.before_request(refuse_nul_characters)
    app.before_request(mark_read_only_requests)
    app.before_request(enforce_access)
    register_template_helpers(app)
    app.after_request(add_security_headers)
    register_error_handlers(app)

    @app.context_processor
    def inject_globals():
        return {"current_user": current_user, "emulated_channel": is_emulated()}


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_nul_characters():
    """A NUL in a URL or form field can only be garbage, and PostgreSQL refuses it in text: say so."""
    values = [request.path, *request.args.values()]
    if request.mimetype in FORM_TYPES and request.blueprint != "webhooks":
        values += request.form.values()
    if any("\x00" in value for value in values):
        message = "The request contains a NUL character (\\u0000), which cannot be stored."
        if request.blueprint == "api":  # a 422 naming the parameters, like the API's other validation errors
            fields = {
                name: "Remove the NUL character (\\u0000)."
                for name, value in request.args.items(multi=True)
                if "\x00" in value
            }
            return jsonify(error={"code": "validation_failed", "message": message, "fields": fields}), 422
        abort(400, message)
    return None


def add_security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # One URL serves the page and its htmx fragment: caches must keep them apart.
    response.vary.add("HX-Request")
    return response


def register_cli(app: Flask) -> None:
    register_commands(app)


def __getattr__(name: str):
    """`app`, built from the environment on first use, for `flask --app app` and gunicorn.

    Built lazily so that importing create_app (as the tests do) builds nothing.
    """
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
