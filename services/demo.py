"""Demo data: one user per role, specialists and tickets to try the flow with."""

from datetime import timedelta

from sqlalchemy import select

from models import Absence, AppSetting, Specialist, Ticket, db, utcnow
from onemsg.emulator import TEMPLATES as EMULATED_TEMPLATES
from services import settings, users
from services.history_seed import generate_history

DEMO_USERS = [
    ("agent@example.com", "Alex Agent", "agent", "agent-demo-pass"),
    ("lead@example.com", "Lee Lead", "lead", "lead-demo-pass"),
    ("admin@example.com", "Ada Admin", "admin", "admin-demo-pass"),
]

# Availability as the demo shows it at any hour: Omar on call (available), Jane without hours
# ("working hours not set"), Mei on leave with Omar standing in, Rui by Sao Paulo's clock.
DEMO_SPECIALISTS = [
    dict(
        display_name="Jane Specialist",
        first_name="Jane",
        last_name="Specialist",
        phone="+12025550199",
        email="jane.specialist@example.com",
        organisation="Acme Support",
        department="Billing",
        title="Senior billing specialist",
        tags="billing, refunds",
        time_zone="America/New_York",
        languages="en, es",
        daily_capacity=8,
    ),
    dict(
        display_name="Omar Haddad",
        first_name="Omar",
        last_name="Haddad",
        phone="+447700900123",
        email="omar.haddad@example.com",
        organisation="Acme Support",
        department="Technical",
        title="Network engineer",
        tags="connectivity, routers",
        # On call around the clock: the demo's always-available specialist.
        time_zone="Europe/London",
        working_hours="Mon-Sun 00:00-24:00",
        languages="en, ar, de",
        daily_capacity=20,
    ),
    dict(
        display_name="Mei Tanaka",
        first_name="Mei",
        last_name="Tanaka",
        phone="+4915123456789",
        organisation="Acme Support",
        department="Accounts",
        title="Account security lead",
        tags="security, account recovery",
        time_zone="Asia/Tokyo",
        working_hours="Mon-Fri 09:00-18:00",
        languages="ja, en",
        daily_capacity=5,
    ),
    dict(
        display_name="Rui Costa",
        first_name="Rui",
        last_name="Costa",
        phone="+5511987654321",
        email="rui.costa@example.com",
        organisation="Acme Support",
        department="Billing",
        title="Tax specialist",
        tags="tax, invoice, refunds",
        time_zone="America/Sao_Paulo",
        working_hours="Mon-Fri 08:00-12:00, 13:00-18:00; Sat 09:00-12:00",
        languages="pt-BR, es, en",
        daily_capacity=8,
    ),
]
# Mei is away for a few days from the day the demo is seeded, with Omar standing in.
DEMO_ABSENCE = dict(specialist_phone="+4915123456789", stand_in_phone="+447700900123", days=4)

# The last four digits of a customer's number choose the emulator's behaviour
# (see the fault table in README.md); ordinary demo customers avoid 0001-0012.
DEMO_TICKETS = [
    dict(
        external_ref="HD-1001",
        subject="Charged twice for the March invoice",
        customer_name="Ana Ruiz",
        customer_phone="+14155552671",
        status="ready",
        language="es",
    ),
    dict(
        external_ref="HD-1002",
        subject="Router keeps dropping the connection",
        customer_name="Tom Becker",
        customer_phone="+4915112345678",
        status="ready",
        language="de",
    ),
    dict(
        external_ref="HD-1003",
        subject="Locked out after changing phone",
        customer_name="Priya Nair",
        customer_phone="+447700900456",
        status="open",
    ),
    dict(
        external_ref="HD-1004",
        subject="Refund not received (delivery fails: demo fault 0001)",
        customer_name="Sam Fail",
        customer_phone="+14155550001",
        status="ready",
    ),
    dict(
        external_ref="HD-1005",
        subject="Tax on my invoice is wrong",
        customer_name="Beatriz Lima",
        customer_phone="+5521987654321",
        status="ready",
        language="pt-BR",
    ),
]


def _demo_reopen_template() -> dict:
    """The emulator's listed template that names the specialist and their phone."""
    listed = next(t for t in EMULATED_TEMPLATES if t["name"] == "specialist_intro" and t["language"] == "en_US")
    return {
        "name": listed["name"],
        "language": listed["language"],
        "namespace": listed["namespace"],
        "params": ["customer_name", "specialist_name", "specialist_phone"],
    }


DEMO_REOPEN_TEMPLATE = _demo_reopen_template()


def seed_demo() -> list[str]:
    """Create what is missing and say what the demo logins are."""
    lines = []
    for email, name, role, password in DEMO_USERS:
        if users.find_by_email(email) is None:
            users.create_user(email, name, role, password)
        lines.append(f"  {role:<6} {email}  password: {password}")
    for data in DEMO_SPECIALISTS:
        if db.session.scalar(select(Specialist).where(Specialist.phone == data["phone"])) is None:
            db.session.add(Specialist(**data))
    db.session.flush()
    _demo_absence()
    agent = users.find_by_email(DEMO_USERS[0][0])
    for data in DEMO_TICKETS:
        if db.session.scalar(select(Ticket).where(Ticket.external_ref == data["external_ref"])) is None:
            ready_at = utcnow() if data["status"] == "ready" else None
            db.session.add(Ticket(**data, assignee_id=agent.id, ready_at=ready_at))
    if settings.get("reopen_template") is None:
        # The emulator's template that names the specialist and their phone.
        db.session.add(AppSetting(key="reopen_template", value=DEMO_REOPEN_TEMPLATE))
    db.session.commit()
    return ["Demo data ready. Log in at /login with:"] + lines


def _demo_absence() -> None:
    away = db.session.scalar(select(Specialist).where(Specialist.phone == DEMO_ABSENCE["specialist_phone"]))
    stand_in = db.session.scalar(select(Specialist).where(Specialist.phone == DEMO_ABSENCE["stand_in_phone"]))
    if away is None or away.absences:
        return
    today = utcnow().date()
    db.session.add(
        Absence(
            specialist=away,
            starts_on=today - timedelta(days=1),
            ends_on=today + timedelta(days=DEMO_ABSENCE["days"]),
            stand_in=stand_in,
            note="Conference",
        )
    )


def seed_history(count: int) -> str:
    return generate_history(count)
