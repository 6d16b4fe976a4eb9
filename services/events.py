"""Handoff events for the helpdesk, queued in the same transaction as the change."""
def record_handoff_event(handoff_id: int, event_type: str) -> None:
    """Queue `event_type` (accepted, sent, delivered, read, failed, unknown, stuck) for delivery."""
