"""One delivery of the ThriveCart log: what arrived, what each attempt did, and replay."""

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..models import ActivityKind, DeliveryEvent, DeliveryStatus, OutcomeKind
from ..services import ServiceError
from ..services.attempts import DeliveryResult, Outcome
from ..services.attention import resolve
from ..services.deliveries import MODES, LogFilter, delivery_for_event, log_of, outcomes_for_event
from ..services.integrations import integration_of
from ..services.outcomes import GROUPS, REJECTED, summarise
from ..services.releases import replay, replay_preview
from ..words import plural
from . import bp
from .access import organisers_only
from .forms import ActionForm, ResolveForm, submit
from .processing import THRIVECART, processed

DELIVERY = THRIVECART + "/deliveries/<int:delivery_id>/"


def _delivery_or_404(event, delivery_id):
    delivery = delivery_for_event(db.session, delivery_id, event.id)
    if delivery is None:
        abort(404)
    return delivery


@bp.route("/events/<int:event_id>/deliveries/")
@organisers_only
def deliveries(event):
    """The delivery log: what reached the event and what each delivery did, newest first,
    filtered; events the app does not act on are hidden unless asked for."""
    args = request.args
    filters = {
        "outcome": args.get("outcome") if args.get("outcome") in (*GROUPS, REJECTED) else None,
        "mode": args.get("mode") if args.get("mode") in MODES else None,
        "attention": args.get("attention") == "1",
        "q": args.get("q", "").strip()[:254] or None,
        "ignored": args.get("ignored") == "1",
    }
    before = args.get("before", "")[:24] or None
    page = log_of(db.session, event.id, integration_of(db.session, event.id), LogFilter(
        filters["outcome"], filters["mode"], filters["attention"], filters["q"], before,
        filters["ignored"]))
    return render_template("admin/deliveries.html", event=event, page=page, groups=GROUPS,
                           rejected=REJECTED, filters=filters, before=before,
                           active_filters={name: value for name, value in filters.items()
                                           if value})


@bp.route(DELIVERY)
@organisers_only
def delivery(event, delivery_id):
    """Show a delivery: its envelope, every attempt's outcomes here, the request and the
    response the app gave."""
    return _delivery_page(event, _delivery_or_404(event, delivery_id))


@bp.route(DELIVERY + "resolve", methods=["POST"])
@organisers_only
def resolve_delivery(event, delivery_id):
    """Mark what the delivery left needing attention resolved, with a note."""
    found = _delivery_or_404(event, delivery_id)
    form = ResolveForm()
    done, _ = submit(form, lambda: resolve(db.session, event.id, found.id, current_user,
                                           form.note.data))
    if done:
        flash(f"Delivery {found.id} no longer needs attention.", "success")
        return redirect(url_for("admin.delivery", event_id=event.id, delivery_id=found.id))
    return _delivery_page(event, found, form), 400


def _delivery_page(event, found, resolve_form=None):
    attempts = {}
    for outcome in outcomes_for_event(db.session, found.id, event.id):
        attempts.setdefault(outcome.attempt, []).append(outcome)
    latest = attempts[max(attempts)] if attempts else []
    payload = json.dumps(found.payload, indent=2, ensure_ascii=False) if found.payload else None
    return render_template("admin/delivery.html", event=event, delivery=found,
                           attempts=sorted(attempts.items(), reverse=True), payload=payload,
                           summary=summarise(latest, found.event_type),
                           response=_response(found, latest),
                           marked=db.session.get(DeliveryEvent, (found.id, event.id)),
                           resolve_form=resolve_form or ResolveForm(formdata=None))


def _response(delivery, outcomes):
    """Return the JSON body of the latest attempt as this event saw it (other events' parts
    are theirs to see)."""
    if delivery.http_status is None:
        return None
    result = DeliveryResult(delivery.id, delivery.status, delivery.http_status, tuple(
        Outcome(outcome.event_id, outcome.item_key, outcome.outcome, outcome.ticket_id,
                detail=outcome.detail) for outcome in outcomes), delivery.error)
    return json.dumps(result.as_json(), indent=2, ensure_ascii=False)


@bp.route(DELIVERY + "replay", methods=["GET", "POST"])
@organisers_only
def replay_delivery(event, delivery_id):
    """Process a delivery again for this event (idempotent; the history is kept). GET asks
    first, saying what it will do."""
    found = _delivery_or_404(event, delivery_id)
    if request.method == "GET" or not ActionForm().validate_on_submit():
        return render_template("admin/replay.html", event=event, delivery=found,
                               preview=replay_preview(db.session, found, event.id))
    try:
        result = replay(db.session, found.id, [event.id], user_id=current_user.id)
    except ServiceError as error:
        flash(str(error), "error")
        return redirect(url_for("admin.delivery", event_id=event.id, delivery_id=found.id))
    processed(event, [result], ActivityKind.DELIVERY_REPLAYED,
              f"delivery {found.id} ({found.event_type or '—'}, order {found.order_id or '—'}): "
              f"{result.status}")
    changed = sum(outcome.outcome in (OutcomeKind.PAID, OutcomeKind.REFUNDED)
                  for outcome in result.outcomes)
    if result.status == DeliveryStatus.FAILED:
        flash(f"Replay failed: {result.error}", "error")
    else:
        flash(f"Replayed: {result.status}, {plural(changed, 'purchase')} changed.", "success")
    return redirect(url_for("admin.delivery", event_id=event.id, delivery_id=found.id))
