"""1MSG posts delivery statuses and customer messages here."""
import hmac
import sys

from flask import Blueprint, abort, current_app, jsonify, request

from extensions import csrf, limiter
from models import WebhookEvent, db, utcnow
from services import applier
from services.webhook_input import storable
from views.access import public

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _secret_matches(given: str) -> bool:
    """Constant-time compare against the current secret and, while rotating, the previous one."""
    matched = False
    for key in ("ONEMSG_WEBHOOK_SECRET", "ONEMSG_WEBHOOK_SECRET_PREVIOUS"):
        expected = current_app.config.get(key) or ""
        if expected:
            matched |= hmac.compare_digest(given.encode(), expected.encode())
    return matched


@bp.route("/1msg/<secret>", methods=["POST"])
@limiter.exempt
@csrf.exempt
@public
def onemsg(secret: str):
    """Store the body (one INSERT, one commit) and answer; the applier takes it from there."""
    if not _secret_matches(secret):
        abort(404)
    limit = current_app.config["WEBHOOK_MAX_BYTES"]
    # Read at most limit + 1 bytes ourselves, so even a huge body is stored (truncated) and refused.
    request.max_content_length = sys.maxsize
    raw = request.stream.read(limit + 1)
    too_large = len(raw) > limit
    body = storable(raw[:limit])
    error = f"body larger than the limit ({len(raw)}+ bytes); stored truncated" if too_large else body.error
    event = WebhookEvent(body=body.text, source=(request.remote_addr or "")[:64], parse_error=error,
                         applied_at=utcnow() if error else None)  # nothing in it to apply
    db.session.add(event)
    db.session.flush()
    stored_as = event.id  # read before the commit expires it
    db.session.commit()
    if too_large:
        return jsonify(error={"code": "too_large", "message": f"The body is larger than {limit} bytes.",
                              "stored_as": stored_as}), 413
    if error:
        return jsonify(error={"code": "malformed", "message": error, "stored_as": stored_as}), 400
    applier.wake(current_app._get_current_object())
    return jsonify(ok=True, stored_as=stored_as)
