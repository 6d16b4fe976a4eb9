"""Demo data: one user per role, specialists and tickets to try the flow with."""
from sqlalchemy import select

from models import AppSetting, Specialist, Ticket, db, utcnow
from onemsg.emulator import TEMPLATES as EMULATED_TEMPLATES
from services import settings, users

DEMO_USERS = [
    ("agent@example.com", "Alex Agent", "agent", "agent-demo-pass"),
    ("lead@example.com", "Lee Lead", "lead", "lead-demo-pass"),
    ("admin@example.com", "Ada Admin", "admin", "admin-demo-pass"),
]

DEMO_SPECIALISTS = [
    dict(display_name="Jane Specialist", first_name="Jane", last_name="Specialist",
         phone="+12025550199", email="jane.specialist@example.com", organisation="Acme Support",
         department="Billing", title="Senior billing specialist", tags="billing, refunds"),
    dict(display_name="Omar Haddad", first_name="Omar", last_name="Haddad",
         phone="+447700900123", email="omar.haddad@example.com", organisation="Acme Support",
         department="Technical", title="Network engineer", tags="connectivity, routers"),
    dict(display_name="Mei Tanaka", first_name="Mei", last_name="Tanaka",
         phone="+4915123456789", organisation="Acme Support", department="Accounts",
         title="Account security lead", tags="security, account recovery"),
]

# The last four digits of a customer's number choose the emulator's behaviour
# (see the fault table in README.md); ordinary demo customers avoid 0001-0012.
DEMO_TICKETS = [
    dict(external_ref="HD-1001", subject="Charged twice for the March invoice",
         customer_name="Ana Ruiz", customer_phone="+14155552671", status="ready"),
    dict(external_ref="HD-1002", subject="Router keeps dropping the connection",
         customer_name="Tom Becker", customer_phone="+4915112345678", status="ready"),
    dict(external_ref="HD-1003", subject="Locked out after changing phone",
         customer_name="Priya Nair", customer_phone="+447700900456", status="open"),
    dict(external_ref="HD-1004", subject="Refund not received (delivery fails: demo fault 0001)",
         customer_name="Sam Fail", customer_phone="+14155550001", status="ready"),
]


def _demo_reopen_template() -> dict:
    """The emulator's listed template that names the specialist and their phone."""
    listed = next(t for t in EMULATED_TEMPLATES
                  if t["name"] == "specialist_intro" and t["language"] == "en_US")
    return {"name": listed["name"], "language": listed["language"],
            "namespace": listed["namespace"],
            "params": ["customer_name", "specialist_name", "specialist_phone"]}


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


def seed_history(count: int) -> str:
    from services.history_seed import generate_history

    return generate_history(count)

