"""Orders: one row per ThriveCart order, and an order's page with everything it did here."""

from flask import abort, render_template, request

from ..extensions import db
from ..services.orders import order_story, orders_of, plan_position
from ..services.search import SHORT_HELP
from . import bp
from .access import organisers_only


@bp.route("/events/<int:event_id>/orders/")
@organisers_only
def orders(event):
    """List the event's orders newest first; search by order id, buyer email or name."""
    query = request.args.get("q", "").strip()[:254]
    before = request.args.get("before", "")[:40] or None
    page = orders_of(db.session, event.id, query or None, before)
    return render_template("admin/orders.html", event=event, page=page, query=query,
                           before=before, search_help=SHORT_HELP)


@bp.route("/events/<int:event_id>/orders/<order_id>")
@organisers_only
def order(event, order_id):
    """An order's items and purchases, its charges, refunds and rebills, the deliveries
    that carried it and the emails it sent."""
    story = order_story(db.session, event.id, order_id[:40])
    if story is None:
        abort(404)
    return render_template("admin/order.html", event=event, story=story,
                           plan_position=plan_position)
