"""Revenue > Tickets > Unlinked items: what ThriveCart sent that no ticket links, and the fix.

Each item can be added to a ticket (it joins that ticket's External IDs), get a ticket of its
own, or be ignored. Linking re-runs, at once, the deliveries that carried it, for whoever may
link: a ticket editor's fix reaches the buyers without waiting for an organiser.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from ..extensions import db
from ..models import ActivityKind, DeliveryStatus, Ticket
from ..services import unlinked as inbox
from ..services.releases import rerun_unlinked
from ..services.tickets import create_ticket_for_item, link_ticket, tickets_of
from ..thrivecart.items import normalize_item_key
from ..words import plural
from . import bp
from .access import members, owned_or_404
from .forms import ItemForm, LinkItemForm, status_of, submit
from .processing import processed

UNLINKED = "/events/<int:event_id>/revenue/tickets/unlinked"


def _link_form(tickets, formdata=None, **data):
    form = LinkItemForm(formdata=formdata, **data)
    form.ticket_id.choices = [SelectChoice(0, "Choose a ticket…")] + [
        SelectChoice(ticket.id, ticket.name + (f" (has {ticket.external_ids_text})"
                                               if ticket.links else ""))
        for ticket in tickets
    ]
    return form


def _inbox(event):
    return redirect(url_for("admin.unlinked_items", event_id=event.id))


@bp.route(UNLINKED, methods=["GET", "POST"])
@members
def unlinked_items(event):
    """List the unlinked items; add one to a ticket and apply its deliveries again."""
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
            key = normalize_item_key(form.external_id.data)
            _rerun(event, key, f"{key} now unlocks “{ticket.name}”")
            return _inbox(event)
    rows = _rows(event, tickets, form)
    if form is not None and form.errors and all(row_form is not form for _item, row_form in rows):
        # Not an item of the inbox (any more): say why next to the page's title instead.
        for message in [*form.external_id.errors, *form.ticket_id.errors]:
            flash(message, "error")
    by_key = {key: ticket for ticket in tickets for key in ticket.external_ids}
    reruns = [(key, by_key[key], count)
              for key, count in inbox.pending_reruns(db.session, event.id).items()
              if key in by_key]
    return render_template("admin/unlinked.html", event=event, items=rows, tickets=tickets,
                           reruns=reruns, ignored=inbox.ignored_items(db.session, event.id)
                           ), status_of(form)


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


def _rerun(event, key, done):
    """Apply again the deliveries that left ``key`` unapplied, record who asked, and say
    what came of it after ``done`` (what the person just did)."""
    results = rerun_unlinked(db.session, event.id, key, user_id=current_user.id)
    processed(event, results, ActivityKind.UNLINKED_RERUN,
              f"{key}: {plural(len(results), 'delivery', 'deliveries')}")
    if not results:
        flash(f"{done}. New orders of it will get the ticket.", "success")
        return
    counts = {}
    for result in results:
        for outcome in result.outcomes:
            if outcome.item == key:
                counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
        if result.status == DeliveryStatus.FAILED:
            counts[DeliveryStatus.FAILED] = counts.get(DeliveryStatus.FAILED, 0) + 1
    described = ", ".join(f"{count} {kind.replace('_', ' ')}"
                          for kind, count in sorted(counts.items()))
    flash(f"{done}. Re-ran {plural(len(results), 'earlier delivery', 'earlier deliveries')} "
          f"of it: {described}.", "error" if DeliveryStatus.FAILED in counts else "success")


@bp.route(UNLINKED + "/rerun", methods=["POST"])
@members
def rerun_unlinked_deliveries(event):
    """Apply again the deliveries that left an item unapplied, now that it is linked."""
    form = ItemForm()
    key = normalize_item_key(form.external_id.data or "")
    if not form.validate_on_submit() or key is None:
        flash("Choose the item whose deliveries to re-run.", "error")
        return _inbox(event)
    if not inbox.deliveries_to_rerun(db.session, event.id, key):
        flash(f"No delivery of {key} is waiting to be re-run.", "info")
        return _inbox(event)
    _rerun(event, key, f"{key} is linked")
    return _inbox(event)


@bp.route(UNLINKED + "/create", methods=["POST"])
@members
def create_ticket_for_unlinked(event):
    """Create a ticket for an item (its ThriveCart name and charged price) and apply it."""
    form = ItemForm()
    key = normalize_item_key(form.external_id.data or "")
    item = next((item for item in inbox.unlinked_items(db.session, event.id)
                 if item.key == key), None)
    if not form.validate_on_submit() or item is None:
        flash("That item is not in the inbox any more: nothing was created.", "error")
        return _inbox(event)
    order = inbox.last_charged(db.session, event.id, key)
    done, ticket = submit(form, lambda: create_ticket_for_item(
        db.session, event, key, item.name, order, actor=current_user))
    if not done:
        for message in form.external_id.errors:
            flash(message, "error")
        return _inbox(event)
    _rerun(event, key, f"Created the ticket “{ticket.name}” for {key}")
    return _inbox(event)


@bp.route(UNLINKED + "/ignore", methods=["POST"])
@members
def ignore_unlinked(event):
    """Stop listing an item (a bump that is not a ticket): counted nowhere, undoable."""
    form = ItemForm()
    done, key = submit(form, lambda: inbox.ignore_item(db.session, event.id,
                                                       form.external_id.data, current_user))
    if done:
        flash(f"{key} is ignored: it is listed under Ignored below and counted nowhere.",
              "success")
    else:
        flash("Choose the item to ignore.", "error")
    return _inbox(event)


@bp.route(UNLINKED + "/restore", methods=["POST"])
@members
def restore_unlinked(event):
    """List an ignored item in the inbox again."""
    form = ItemForm()
    done, restored = submit(form, lambda: inbox.restore_item(
        db.session, event.id, form.external_id.data, current_user))
    if done and restored:
        flash(f"{form.external_id.data} is listed again.", "success")
    return _inbox(event)
