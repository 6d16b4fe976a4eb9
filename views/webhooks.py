"""1MSG posts delivery statuses and customer messages here."""
import hmac
import sys

from flask import Blueprint, abort, current_app, jsonify, request

from extensions import csrf, limiter
from models import db
from services.status import ingest_webhook
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
    """Store the raw body first, then apply it in the same transaction; never call out."""
    if not _secret_matches(secret):
        abort(404)
    limit = current_app.config["WEBHOOK_MAX_BYTES"]
    # Read at most limit + 1 bytes ourselves, so even a huge body is stored (truncated) and refused.
    request.max_content_length = sys.maxsize
    raw = request.stream.read(limit + 1)
    too_large = len(raw) > limit
    event, error = ingest_webhook(raw[:limit], request.remote_addr or "", too_large=too_large)
    db.session.flush()
    # Read what the answer needs before the commit expires it (saves a query per POST).
    stored_as, statuses, messages = event.id, event.status_count, event.message_count
    db.session.commit()
    if too_large:
        return jsonify(error={"code": "too_large", "message": f"The body is larger than {limit} bytes."}), 413
    if error:
        return jsonify(error={"code": "malformed", "message": error, "stored_as": stored_as}), 400
    return jsonify(ok=True, stored_as=stored_as, statuses=statuses, messages=messages)
