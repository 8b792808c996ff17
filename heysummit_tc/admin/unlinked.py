"""Revenue > Tickets > Unlinked items: what ThriveCart sent that no ticket links, and the fix."""

from flask import flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from ..extensions import db
from ..models import ActivityKind, DeliveryStatus, Role, Ticket
from ..services import unlinked as inbox
from ..services.releases import rerun_unlinked
from ..services.tickets import link_ticket, tickets_of
from ..words import plural
from . import bp
from .access import members, organisers_only, owned_or_404
from .forms import LinkItemForm, RerunForm, status_of, submit
from .processing import processed

UNLINKED = "/events/<int:event_id>/revenue/tickets/unlinked"


def _link_form(tickets, formdata=None, **data):
    form = LinkItemForm(formdata=formdata, **data)
    form.ticket_id.choices = [SelectChoice(0, "Choose a ticket…")] + [
        SelectChoice(ticket.id, ticket.name + (f" (now {ticket.external_id})"
                                               if ticket.external_id else ""))
        for ticket in tickets
    ]
    return form


@bp.route(UNLINKED, methods=["GET", "POST"])
@members
def unlinked_items(event):
    """List the unlinked items; link one to a ticket (as the ticket form would)."""
    tickets = [ticket for ticket, _purchases in tickets_of(db.session, event.id)]
    form = None
    if request.method == "POST":
        form = _link_form(tickets, request.form)
        ticket = owned_or_404(Ticket, form.ticket_id.data, event.id) \
            if form.ticket_id.data else None
        if ticket is None:
            form.validate()
            form.ticket_id.errors = [*form.ticket_id.errors,
                                     "Choose the ticket this item should unlock."]
        elif submit(form, lambda: link_ticket(db.session, ticket, form.external_id.data,
                                              actor=current_user))[0]:
            waiting = len(inbox.deliveries_to_rerun(db.session, event.id, ticket.external_id))
            earlier = plural(waiting, "earlier delivery", "earlier deliveries")
            flash(f"{ticket.external_id} now unlocks “{ticket.name}”. New orders of it will "
                  "get the ticket" + (f"; {earlier} can be re-run below." if waiting else "."),
                  "success")
            return redirect(url_for("admin.unlinked_items", event_id=event.id))
    rows = _rows(event, tickets, form)
    if form is not None and form.errors and all(row_form is not form for _item, row_form in rows):
        # Not an item of the inbox (any more): say why next to the page's title instead.
        for message in [*form.external_id.errors, *form.ticket_id.errors]:
            flash(message, "error")
    by_key = {ticket.external_id: ticket for ticket in tickets if ticket.external_id}
    reruns = [(key, by_key[key], count, RerunForm(formdata=None, external_id=key))
              for key, count in inbox.pending_reruns(db.session, event.id).items()]
    return render_template("admin/unlinked.html", event=event,
                           items=rows, tickets=tickets, reruns=reruns,
                           can_rerun=g.membership.role == Role.ORGANISER), status_of(form)


def _rows(event, tickets, failed_form):
    """Pair each item with its link form (the failed one keeps its errors)."""
    rows = []
    for item in inbox.unlinked_items(db.session, event.id):
        if failed_form is not None and failed_form.external_id.data == item.key:
            form = failed_form
        else:
            form = _link_form(tickets, external_id=item.key)
        rows.append((item, form))
    return rows


@bp.route(UNLINKED + "/rerun", methods=["POST"])
@organisers_only
def rerun_unlinked_deliveries(event):
    """Apply again the deliveries that left an item unapplied, now that it is linked."""
    form = RerunForm()
    if not form.validate_on_submit():
        flash("Choose the item whose deliveries to re-run.", "error")
        return redirect(url_for("admin.unlinked_items", event_id=event.id))
    key = form.external_id.data.strip()[:40]
    results = rerun_unlinked(db.session, event.id, key, user_id=current_user.id)
    processed(event, results, ActivityKind.UNLINKED_RERUN,
              f"{key}: {plural(len(results), 'delivery', 'deliveries')}")
    if not results:
        flash(f"No delivery of {key} is waiting to be re-run.", "info")
        return redirect(url_for("admin.unlinked_items", event_id=event.id))
    counts = {}
    for result in results:
        for outcome in result.outcomes:
            if outcome.item == key:
                counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        if result.status == DeliveryStatus.FAILED:
            counts[DeliveryStatus.FAILED] = counts.get(DeliveryStatus.FAILED, 0) + 1
    described = ", ".join(f"{count} {kind.replace('_', ' ')}"
                          for kind, count in sorted(counts.items()))
    flash(f"Re-ran {plural(len(results), 'delivery', 'deliveries')} of {key}: "
          f"{described}.", "error" if DeliveryStatus.FAILED in counts else "success")
    return redirect(url_for("admin.thrivecart", event_id=event.id))
