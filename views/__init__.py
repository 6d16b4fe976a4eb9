"""One blueprint per user task."""
from views.admin import bp as admin_bp
from views.auth import bp as auth_bp
from views.channel import bp as channel_bp
from views.health import bp as health_bp
from views.home import bp as home_bp
from views.tickets import bp as tickets_bp

BLUEPRINTS = [auth_bp, health_bp, home_bp, channel_bp, tickets_bp, admin_bp]
