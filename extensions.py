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
