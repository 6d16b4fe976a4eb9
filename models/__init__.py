"""The database and its entities. Imports nothing of ours but models/."""

from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def utcnow() -> datetime:
    """Naive UTC: the one time representation stored on SQLite and PostgreSQL alike."""
    return datetime.now(UTC).replace(tzinfo=None)


from models.api_key import API_KEY_ROLES, ApiKey  # noqa: E402
from models.app_setting import AppSetting  # noqa: E402
from models.audit_entry import AuditEntry  # noqa: E402
from models.customer_link import CustomerLink  # noqa: E402
from models.handoff import FINAL_STATUSES, HANDOFF_STATUSES, STATUS_RANK, Handoff  # noqa: E402
from models.inbound_message import InboundMessage  # noqa: E402
from models.outbox_event import OUTBOX_STATUSES, OutboxEvent  # noqa: E402
from models.sla_rollup import SlaDay, SlaDurationDay  # noqa: E402
from models.specialist import Absence, Specialist  # noqa: E402
from models.status_event import StatusEvent  # noqa: E402
from models.ticket import TICKET_STATUSES, Ticket  # noqa: E402
from models.ticket_viewer import TicketViewer  # noqa: E402
from models.user import ROLES, User  # noqa: E402
from models.user_session import UserSession  # noqa: E402
from models.webhook_event import WebhookEvent  # noqa: E402

__all__ = [
    "db",
    "utcnow",
    "User",
    "UserSession",
    "ROLES",
    "Specialist",
    "SlaDay",
    "SlaDurationDay",
    "Absence",
    "Ticket",
    "TICKET_STATUSES",
    "InboundMessage",
    "Handoff",
    "HANDOFF_STATUSES",
    "STATUS_RANK",
    "FINAL_STATUSES",
    "WebhookEvent",
    "StatusEvent",
    "AuditEntry",
    "AppSetting",
    "ApiKey",
    "API_KEY_ROLES",
    "OutboxEvent",
    "OUTBOX_STATUSES",
    "TicketViewer",
    "CustomerLink",
]
