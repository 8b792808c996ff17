"""``/api/webhooks/thrivecart/``: authenticate, record, apply, answer."""

import logging

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from ..extensions import db
from ..jobs import after_grant
from ..security import wrong_secrets
from ..services.attempts import Attempt
from ..services.held import HeldCaps, hold_delivery
from ..services.integrations import find_event_ids, secret_digest
from ..services.provisioning import record_delivery, run_delivery
from ..sql import autocommit
from ..thrivecart.order import MAX_ITEMS, read_order
from ..thrivecart.payload import SECRET_FIELD, PayloadError, parse_payload

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

log = logging.getLogger(__name__)

ALLOWED_METHODS = ("GET", "HEAD", "POST", "OPTIONS")
# Seconds a post refused for a full held store is asked to wait before it is sent again.
HELD_RETRY_AFTER = 3600


@bp.route("/thrivecart/", methods=ALLOWED_METHODS, strict_slashes=False,
          provide_automatic_options=False)
def thrivecart():
    """Answer ThriveCart's set-up pings and apply the orders it posts."""
    if request.method != "POST":
        response = jsonify(status="ok", hint="POST ThriveCart webhook notifications here")
        response.headers["Allow"] = ", ".join(ALLOWED_METHODS)
        return response
    try:
        payload = parse_payload(_read_body(current_app.config["MAX_CONTENT_LENGTH"]))
    except RequestEntityTooLarge:
        return _too_large()
    except PayloadError as error:
        return jsonify(status="malformed", error=str(error)), 400
    if SECRET_FIELD not in payload:
        return jsonify(status="ping")
    secret_word = payload.pop(SECRET_FIELD)
    # An empty secret marks a set-up ping, not a password comparison; "null" (which the
    # parser reads as None) is a secret like any other, and a wrong one.
    if secret_word == "":  # nosec B105
        return jsonify(status="ping")
    if secret_word is None:
        secret_word = "null"  # noqa: S105  # nosec B105
    if not isinstance(secret_word, str):
        return jsonify(status="malformed", error=f"{SECRET_FIELD} must be text"), 400
    order = read_order(payload)
    if len(order.item_keys) > MAX_ITEMS:
        return jsonify(status="malformed",
                       error=f"the order lists {len(order.item_keys)} items; "
                             f"at most {MAX_ITEMS} are accepted"), 400
    try:
        return _receive(order, secret_word)
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("webhook answered 503: %s", type(error).__name__)
        return jsonify(status="unavailable",
                       error="the database is unavailable; nothing was applied, try again"), 503


def _read_body(limit):
    """Return the request body, refusing one over ``limit`` bytes however it is framed.

    Werkzeug stops a chunked body at the limit without saying so; reading one byte past
    it tells a body that fits from one that was cut.
    """
    request.max_content_length = limit + 1
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def _receive(order, secret_word):
    config = current_app.config
    client = request.remote_addr or "-"
    with _recording_connection() as connection:
        event_ids = find_event_ids(connection, config["SECRET_WORD_KEY"], secret_word)
        if event_ids:
            delivery_id = record_delivery(connection, order, event_ids)
            connection.commit()
    if not event_ids:
        if not wrong_secrets.record_failure(client):
            return jsonify(status="rate_limited",
                           error="too many posts with a wrong secret word"), 429
        held_id = hold_delivery(
            db.session, order, secret_digest(config["SECRET_WORD_KEY"], secret_word), client,
            HeldCaps.of(config))
        db.session.commit()
        if held_id is None:
            log.warning("webhook refused: secret word matches no integration and the store "
                        "of held deliveries is full")
            response = jsonify(
                status="held_store_full",
                error="thrivecart_secret matches no configured ThriveCart integration, and "
                      "the store of deliveries held for a Secret Word not saved yet is full; "
                      "send it again later")
            response.headers["Retry-After"] = str(HELD_RETRY_AFTER)
            return response, 503
        log.info("webhook rejected: secret word matches no integration (held as %s)", held_id)
        return jsonify(status="rejected",
                       error="thrivecart_secret matches no configured ThriveCart integration"), 403

    result = run_delivery(Attempt(db.session, delivery_id, order, event_ids))
    after_grant(result)
    log.info(
        "delivery %s %s: %s (%s) for events %s", delivery_id, order.event_type or "-",
        result.status, result.http_status, ",".join(map(str, event_ids)),
        extra={"fields": {"delivery_id": delivery_id, "delivery_status": result.status,
                          "http_status": result.http_status}},
    )
    return jsonify(result.as_json()), result.http_status


def _recording_connection():
    """The connection that finds the events and records the delivery before processing.

    On PostgreSQL it runs outside a transaction (each of its two statements is one of its
    own, and the record is a single statement), which spares a BEGIN and a COMMIT; SQLite
    records in a transaction of its own. Either way the record is committed before the
    delivery is processed, so a worker killed mid-way leaves it to replay.
    """
    return autocommit(db.engine.connect())


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error=None):
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return jsonify(status="too_large", error=f"body is larger than {limit} bytes"), 413
