"""One blueprint per user task."""

from views.admin import bp as admin_bp
from views.api import bp as api_bp
from views.api_keys import bp as api_keys_bp
from views.auth import bp as auth_bp
from views.channel import bp as channel_bp
from views.directory import bp as directory_bp
from views.handoffs import bp as handoffs_bp
from views.health import bp as health_bp
from views.history import bp as history_bp
from views.home import bp as home_bp
from views.outbox import bp as outbox_bp
from views.tickets import bp as tickets_bp
from views.webhook_log import bp as webhook_log_bp
from views.webhooks import bp as webhooks_bp

BLUEPRINTS = [
    auth_bp,
    health_bp,
    home_bp,
    channel_bp,
    tickets_bp,
    directory_bp,
    handoffs_bp,
    webhooks_bp,
    admin_bp,
    history_bp,
    api_bp,
    api_keys_bp,
    outbox_bp,
    webhook_log_bp,
]
