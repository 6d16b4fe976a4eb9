"""Realistic handoff history for demos and the scale benchmark: `flask demo seed --handoffs N`.

Rows go in with bulk Core INSERTs (executemany) in batches, with ids chosen here, so a retry can
point at the failure it follows without reading anything back. About 90 days of history, busier
on weekdays and in office hours, with the spread of outcomes a real channel shows: most cards
delivered within seconds and read within minutes, a long tail of slow deliveries, some
failures before and after 1MSG accepted the card, a few stuck or unknown sends, and retries.
"""

import math
import random
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select, text

from models import STATUS_RANK, Handoff, Specialist, Ticket, User, db, utcnow
from models.handoff import handoff_durations
from services.passwords import hash_password
from services.specialist_cards import card_payload

DAYS = 90
BATCH = 10_000
AGENT_COUNT = 24
FIRST_NAMES = (
    "Alex",
    "Sam",
    "Priya",
    "Tom",
    "Mei",
    "Omar",
    "Lucia",
    "Jonas",
    "Ama",
    "Ivan",
    "Sara",
    "Kenji",
    "Nora",
    "Diego",
    "Fatima",
    "Liam",
    "Chloe",
    "Ravi",
    "Elena",
    "Kofi",
    "Hana",
    "Mateo",
    "Zoe",
    "Yusuf",
)
LAST_NAMES = (
    "Garcia",
    "Smith",
    "Nair",
    "Becker",
    "Tanaka",
    "Haddad",
    "Rossi",
    "Berg",
    "Mensah",
    "Petrov",
    "Cohen",
    "Sato",
    "Larsen",
    "Lopez",
    "Khan",
    "Murphy",
    "Martin",
    "Iyer",
)
DEPARTMENTS = (
    ("Billing", "billing, refunds"),
    ("Technical", "connectivity, routers"),
    ("Accounts", "security, account recovery"),
    ("Sales", "upgrades, contracts"),
    ("Logistics", "delivery, returns"),
)
# (failure code, weight) for sends refused before 1MSG accepted the card.
SEND_FAILURES = (
    ("window_closed", 55),
    ("invalid_recipient", 20),
    ("rate_limited", 8),
    ("upstream_unavailable", 7),
    ("rejected", 5),
    ("auth_failed", 2),
    ("ticket_closed", 3),
)
# (reason text, Meta code, weight) for failures reported by webhook after acceptance.
DELIVERY_FAILURES = (
    ("Message undeliverable", 131026, 50),
    ("Re-engagement message: more than 24 hours have passed since the customer last replied", 131047, 30),
    ("This message was not delivered to maintain healthy ecosystem engagement", 131049, 20),
)
SEND_FAILURE_TEXT = {
    "window_closed": "Dialog window is closed",
    "invalid_recipient": "Invalid phone number",
    "rate_limited": "Too many requests",
    "upstream_unavailable": "1MSG could not be reached",
    "rejected": "Bad request",
    "auth_failed": "Wrong token",
    "ticket_closed": "The ticket is closed",
}


def generate_history(count: int, *, seed: int | None = None, days: int = DAYS) -> str:
    """Insert `count` handoffs (and their tickets) spread over the last `days` days."""
    started = time.monotonic()
    rng = random.Random(seed)
    agents, specialists = _ensure_people(rng)
    run = format(int(time.time() * 1000) % 36**6, "x")  # keeps references unique across runs
    generator = _Generator(rng, agents, specialists, run, days)
    next_ticket, next_handoff = _next_id(Ticket), _next_id(Handoff)
    made = 0
    while made < count:
        tickets, handoffs, next_ticket, next_handoff = generator.batch(
            min(BATCH, count - made), next_ticket, next_handoff
        )
        connection = db.session.connection()
        connection.execute(Ticket.__table__.insert(), tickets)
        connection.execute(Handoff.__table__.insert(), handoffs)
        db.session.commit()
        made += len(handoffs)
    _advance_sequences()
    return (
        f"Generated {made} handoffs ({generator.tickets_made} tickets) over the last "
        f"{days} days in {time.monotonic() - started:.1f} s."
    )


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _advance_sequences() -> None:
    """PostgreSQL: explicit ids leave the serial sequences behind; move them past the new rows."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("tickets", "handoffs"):
        # bandit: fixed table names
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # nosec B608
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        )
    db.session.commit()


def _ensure_people(rng: random.Random) -> tuple[list[int], list[Specialist]]:
    """Seed agents and specialists once (found again by email/phone on later runs)."""
    password = hash_password("seed-agent-pass")  # one hash for all: hashing is slow on purpose
    agents = []
    for i in range(AGENT_COUNT):
        email = f"seed.agent{i + 1:02d}@example.com"
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(
                email=email,
                name=f"{FIRST_NAMES[i]} {LAST_NAMES[i % len(LAST_NAMES)]}",
                role="agent",
                password_hash=password,
            )
            db.session.add(user)
        agents.append(user)
    specialists = [_ensure_specialist(i) for i in range(36)]
    db.session.commit()
    return [a.id for a in agents], specialists


def _ensure_specialist(i: int) -> Specialist:
    phone = f"+44770090{1000 + i:04d}"
    specialist = db.session.scalar(select(Specialist).where(Specialist.phone == phone))
    if specialist is None:
        first, last = FIRST_NAMES[(i * 7) % len(FIRST_NAMES)], LAST_NAMES[(i * 5) % len(LAST_NAMES)]
        department, tags = DEPARTMENTS[i % len(DEPARTMENTS)]
        specialist = Specialist(
            display_name=f"{first} {last}",
            first_name=first,
            last_name=last,
            phone=phone,
            organisation="Acme Support",
            department=department,
            title=f"{department} specialist",
            tags=tags,
        )
        db.session.add(specialist)
        db.session.flush()
    return specialist


class _Generator:
    """Builds batches of ticket and handoff rows as plain dicts for executemany."""

    def __init__(self, rng, agent_ids, specialists, run, days):
        self.rng, self.run, self.days = rng, run, days
        self.now = utcnow()
        # A few busy agents and popular specialists, as in real teams (Zipf-like weights).
        self.agents = agent_ids + [None]
        self.agent_weights = [1 / (i + 1) ** 0.6 for i in range(len(agent_ids))] + [0.15]
        self.specialists = [(s.id, card_payload(s)) for s in specialists]
        self.specialist_weights = [1 / (i + 1) ** 0.8 for i in range(len(specialists))]
        self.tickets_made = 0
        self.pending_retry = None

    def batch(self, size, next_ticket, next_handoff):
        tickets, handoffs = [], []
        while len(handoffs) < size:
            row = self._handoff(next_handoff)
            if row["ticket_id"] is None:
                tickets.append(self._ticket(next_ticket, row))
                row["ticket_id"], next_ticket = next_ticket, next_ticket + 1
            handoffs.append(row)
            next_handoff += 1
        return tickets, handoffs, next_ticket, next_handoff

    def _ticket(self, ticket_id, handoff) -> dict:
        self.tickets_made += 1
        return dict(
            id=ticket_id,
            external_ref=f"S{self.run}-{ticket_id:07d}",
            subject="Customer needs a specialist",
            customer_name=f"{self.rng.choice(FIRST_NAMES)} {self.rng.choice(LAST_NAMES)}",
            customer_phone=handoff["customer_phone"],
            status="handed_off" if handoff["accepted_at"] else "ready",
            assignee_id=handoff["agent_id"],
            ready_at=handoff["ready_at"],
            created_at=handoff["ready_at"],
            updated_at=handoff["created_at"],
        )

    def _created_at(self) -> datetime:
        """Office hours on weekdays mostly; never in the future."""
        rng = self.rng
        while True:
            day = self.now - timedelta(days=rng.random() * self.days)
            if day.weekday() >= 5 and rng.random() < 0.6:
                continue
            hour = min(23.99, max(0.0, rng.gauss(13, 3.2)))
            at = day.replace(
                hour=int(hour),
                minute=int(hour % 1 * 60),
                second=rng.randrange(60),
                microsecond=rng.randrange(1_000_000),
            )
            if at < self.now - timedelta(minutes=1):
                return at

    def _handoff(self, handoff_id: int) -> dict:
        rng = self.rng
        retry = self.pending_retry
        self.pending_retry = None
        specialist_id, card = rng.choices(self.specialists, self.specialist_weights)[0]
        if retry is not None:
            created = min(retry["created_at"] + timedelta(minutes=rng.uniform(2, 90)), self.now - timedelta(seconds=30))
            row = self._row(handoff_id, created, retry["agent_id"], specialist_id, card, retry["customer_phone"])
            row.update(ticket_id=retry["ticket_id"], retry_of_id=retry["id"], ready_at=retry["ready_at"])
        else:
            created = self._created_at()
            row = self._row(
                handoff_id,
                created,
                rng.choices(self.agents, self.agent_weights)[0],
                specialist_id,
                card,
                f"+1415{rng.randrange(200, 999):03d}{rng.randrange(13, 10000):04d}",
            )
        self._outcome(row)
        # Core INSERTs skip the ORM event that keeps the stored durations: set them here.
        row.update(handoff_durations(row["ready_at"], row["accepted_at"], row["delivered_at"], row["read_at"]))
        if row["status"] == "failed" and row["accepted_at"] is None and rng.random() < 0.5 and row["ticket_id"] is None:
            self.pending_retry = row  # the agent tries again a little later
        return row

    def _row(self, handoff_id, created, agent_id, specialist_id, card, phone) -> dict:
        ready = created - timedelta(seconds=self.rng.lognormvariate(math.log(240), 1.0))
        return dict(
            id=handoff_id,
            kind="card",
            ticket_id=None,
            specialist_id=specialist_id,
            agent_id=agent_id,
            idempotency_key=f"seed-{self.run}-{handoff_id}",
            request_fingerprint="",
            retry_of_id=None,
            customer_phone=phone,
            card_snapshot=card,
            template_name=None,
            intro_text=None,
            intro_message_id=None,
            message_id=None,
            status="sending",
            status_rank=0,
            ready_at=ready,
            created_at=created,
            accepted_at=None,
            sent_at=None,
            delivered_at=None,
            read_at=None,
            failed_at=None,
            failure_code=None,
            failure_reason=None,
            failure_meta_code=None,
            last_checked_at=None,
            stuck_at=None,
            updated_at=created,
        )

    def _outcome(self, row: dict) -> None:
        rng, created = self.rng, row["created_at"]
        draw = rng.random()
        if draw < 0.02:
            code = rng.choices([c for c, _ in SEND_FAILURES], [w for _, w in SEND_FAILURES])[0]
            return self._set(
                row,
                "failed",
                failed_at=created + timedelta(seconds=rng.uniform(0.2, 3)),
                failure_code=code,
                failure_reason=SEND_FAILURE_TEXT[code],
            )
        if draw < 0.023:
            return self._set(
                row, "unknown", failure_code="unknown_outcome", failure_reason="1MSG did not answer in time"
            )
        accepted = created + timedelta(seconds=rng.uniform(0.3, 2.5))
        row.update(
            accepted_at=accepted,
            message_id=f"wamid.seed-{self.run}-{row['id']}",
            sent_at=accepted + timedelta(seconds=rng.lognormvariate(math.log(1.5), 0.5)),
        )
        if draw < 0.048:
            reason, meta, _ = rng.choices(DELIVERY_FAILURES, [w for *_, w in DELIVERY_FAILURES])[0]
            return self._set(
                row,
                "failed",
                failed_at=accepted + timedelta(seconds=rng.lognormvariate(math.log(30), 1)),
                failure_code="delivery_failed",
                failure_reason=reason,
                failure_meta_code=meta,
            )
        if draw < 0.056:
            return self._set(row, "sent", stuck_at=accepted + timedelta(minutes=15))
        self._delivered(row, accepted)

    def _delivered(self, row: dict, accepted: datetime) -> None:
        rng = self.rng
        slow = rng.random() < 0.03  # a phone that was off for a while
        delay = rng.uniform(300, 3600) if slow else rng.lognormvariate(math.log(4), 1.1)
        delivered = accepted + timedelta(seconds=delay)
        if rng.random() < 0.7:
            read = delivered + timedelta(seconds=rng.lognormvariate(math.log(180), 1.5))
            # Some phones report "read" without a separate "delivered".
            self._set(row, "read", delivered_at=None if rng.random() < 0.05 else delivered, read_at=read)
        else:
            self._set(row, "delivered", delivered_at=delivered)

    def _set(self, row: dict, status: str, **fields) -> None:
        # Nothing can have happened after "now": later events simply have not arrived yet.
        for name, value in list(fields.items()):
            if isinstance(value, datetime) and value > self.now:
                fields[name] = None
        if status in ("read", "delivered") and not (fields.get("read_at") or fields.get("delivered_at")):
            status = "sent"
        elif status == "read" and fields.get("read_at") is None:
            status = "delivered"
        row.update(status=status, status_rank=STATUS_RANK[status], **fields)
        row["updated_at"] = max(v for v in (row["created_at"], *fields.values()) if isinstance(v, datetime))
