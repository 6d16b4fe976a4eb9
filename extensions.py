"""Flask extensions, created once and bound to an app in create_app()."""

from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
htmx = HTMX()
login_manager = LoginManager()
migrate = Migrate()
# Storage comes from RATELIMIT_STORAGE_URI: Redis when REDIS_URL is set, so every
# worker shares the counts; memory otherwise.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def exempt_from_rate_limits(view):
    """limiter.exempt, and no limiter work at all on the view's requests (see skip_limiter_on_exempt_views)."""
    view = limiter.exempt(view)
    view.skips_limiter = True
    return view


def skip_limiter_on_exempt_views(app) -> None:
    """Flask-Limiter still resolves and filters every limit of an exempt view on each request
    (about a tenth of a 304 poll's time) only to apply none: its check is skipped for views
    marked by exempt_from_rate_limits. Call after limiter.init_app(app)."""
    from flask import request

    funcs = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit

    def check_unless_exempt():
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        return None if getattr(view, "skips_limiter", False) else check()

    if check in funcs:  # not when RATELIMIT_ENABLED is off
        funcs[funcs.index(check)] = check_unless_exempt
