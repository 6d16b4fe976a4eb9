"""Writing the append-only audit trail."""

from flask_login import current_user

from models import AuditEntry, db


def actor_label(user) -> str:
    return user.email if user is not None else "system"


def record(
    action: str,
    subject_type: str,
    subject_id=None,
    *,
    actor=None,
    label: str | None = None,
    summary: str = "",
    before=None,
    after=None,
) -> AuditEntry:
    """Add an audit entry to the current transaction; the caller commits."""
    if actor is None and label is None and current_user and current_user.is_authenticated:
        actor = current_user._get_current_object()
    entry = AuditEntry(
        actor_id=actor.id if actor is not None else None,
        actor_label=label or actor_label(actor),
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id) if subject_id is not None else None,
        summary=summary[:500],
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry


def changed_fields(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the fields that changed, so entries stay readable."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
