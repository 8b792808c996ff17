"""Revenue > Tickets: tickets, their External IDs and prices."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..models import Ticket
from ..services import ServiceError
from ..services.integrations import linked_elsewhere
from ..services.tickets import (
    TicketFields,
    add_price,
    create_ticket,
    delete_ticket,
    normalize_external_ids,
    purchase_count,
    remove_price,
    tickets_of,
    update_ticket,
)
from ..services.unlinked import count_unlinked
from . import bp
from .access import members, owned_or_404
from .forms import ActionForm, PriceForm, TicketForm, status_of, submit


@bp.route("/events/<int:event_id>/revenue/tickets/")
@members
def tickets(event):
    """List the event's tickets with their prices, External IDs and purchases."""
    rows = tickets_of(db.session, event.id)
    linked = sum(1 for ticket, _purchases in rows if ticket.links)
    return render_template("admin/tickets.html", event=event, rows=rows, linked=linked,
                           unlinked=count_unlinked(db.session, event.id))


def _fields(form):
    return TicketFields(form.name.data, form.external_id.data, form.active.data,
                        form.on_payment_failed.data, form.on_cancel.data, form.item_type.data)


@bp.route("/events/<int:event_id>/revenue/tickets/new", methods=["GET", "POST"])
@members
def new_ticket(event):
    """Create a ticket."""
    form = TicketForm()
    done, ticket = submit(form, lambda: create_ticket(
        db.session, event, _fields(form), actor=current_user))
    if done:
        flash(f"Ticket “{ticket.name}” created"
              + (f" with External ID {ticket.external_ids_text}" if ticket.links else "")
              + ". Add its price below.", "success")
        return redirect(url_for("admin.ticket", event_id=event.id, ticket_id=ticket.id))
    return _ticket_page(event, form, None)


def _ticket_page(event, form, ticket, price_form=None):
    """The ticket form (new or existing), answering 400 when a form on it has errors."""
    if ticket is not None and price_form is None:
        price_form = PriceForm(formdata=None, prefix="price", currency=event.currency)
    shared = linked_elsewhere(db.session, event.id, ticket.external_ids, current_user.id) \
        if ticket is not None else []
    return render_template("admin/ticket_form.html", event=event, form=form, ticket=ticket,
                           price_form=price_form, preview=_preview(form), shared=shared), \
        status_of(form, price_form)


def _preview(form):
    """What External IDs the form's input would store (shown before saving), or None."""
    try:
        keys = normalize_external_ids(form.external_id.data, form.item_type.data)
    except ServiceError:
        return None
    return ", ".join(keys) or None


@bp.route("/events/<int:event_id>/revenue/tickets/<int:ticket_id>/delete",
          methods=["GET", "POST"])
@members
def remove_ticket(event, ticket_id):
    """Delete a ticket nobody bought (GET asks first); one with purchases is kept."""
    ticket = owned_or_404(Ticket, ticket_id, event.id)
    if request.method == "POST":
        name = ticket.name
        done, _ = submit(ActionForm(), lambda: delete_ticket(db.session, ticket,
                                                             actor=current_user))
        if done:
            flash(f"Ticket “{name}” deleted.", "success")
            return redirect(url_for("admin.tickets", event_id=event.id))
        return redirect(url_for("admin.ticket", event_id=event.id, ticket_id=ticket_id))
    return render_template("admin/ticket_delete.html", event=event, ticket=ticket,
                           purchases=purchase_count(db.session, ticket))


@bp.route("/events/<int:event_id>/revenue/tickets/<int:ticket_id>/", methods=["GET", "POST"])
@members
def ticket(event, ticket_id):
    """Edit a ticket's name, External ID and availability, and list its prices."""
    ticket = owned_or_404(Ticket, ticket_id, event.id)
    form = TicketForm(obj=ticket, external_id=ticket.external_ids_text)
    done, _ = submit(form, lambda: update_ticket(
        db.session, ticket, _fields(form), actor=current_user))
    if done:
        flash(f"Ticket “{ticket.name}” saved.", "success")
        return redirect(url_for("admin.ticket", event_id=event.id, ticket_id=ticket.id))
    return _ticket_page(event, form, ticket)


@bp.route("/events/<int:event_id>/revenue/tickets/<int:ticket_id>/prices", methods=["POST"])
@members
def add_ticket_price(event, ticket_id):
    """Add a price to a ticket."""
    ticket = owned_or_404(Ticket, ticket_id, event.id)
    price_form = PriceForm(prefix="price")
    done, _ = submit(price_form, lambda: add_price(db.session, ticket, price_form.amount.data,
                                                   price_form.currency.data,
                                                   actor=current_user))
    if done:
        flash("Price added.", "success")
        return redirect(url_for("admin.ticket", event_id=event.id, ticket_id=ticket.id))
    page, _status = _ticket_page(event, TicketForm(formdata=None, obj=ticket,
                                                   external_id=ticket.external_ids_text), ticket,
                                 price_form)
    return page, 400


@bp.route(
    "/events/<int:event_id>/revenue/tickets/<int:ticket_id>/prices/<int:price_id>/delete",
    methods=["POST"],
)
@members
def delete_ticket_price(event, ticket_id, price_id):
    """Remove a price from a ticket."""
    ticket = owned_or_404(Ticket, ticket_id, event.id)
    done, _ = submit(ActionForm(), lambda: remove_price(db.session, ticket, price_id,
                                                        actor=current_user))
    if done:
        flash("Price removed.", "success")
    return redirect(url_for("admin.ticket", event_id=event.id, ticket_id=ticket.id))
