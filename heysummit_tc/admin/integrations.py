"""Event Setup > Integrations > ThriveCart Checkout."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from ..extensions import db
from ..models import ActivityKind, DeliveryStatus, OutcomeKind
from ..services.deliveries import last_delivery, log_of
from ..services.held import held_for_digest
from ..services.integrations import (
    disconnect,
    dismiss_rejections,
    integration_of,
    set_secret_word,
    sharing_events,
)
from ..services.rejections import rejected_posts
from ..services.releases import release_held, send_test_purchase
from ..services.tickets import linked_tickets, setup_warnings
from ..thrivecart.customer import Buyer
from ..words import plural
from . import bp
from .access import organisers_only
from .forms import ActionForm, SecretWordForm, TestPurchaseForm, status_of, submit
from .processing import THRIVECART, processed

# How many deliveries the ThriveCart page shows (the log's own page has them all).
RECENT = 5


def webhook_url():
    """Return the URL organisers paste into ThriveCart."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for("webhooks.thrivecart")
    return url_for("webhooks.thrivecart", _external=True)


@bp.route("/events/<int:event_id>/setup/integrations/")
@organisers_only
def integrations(event):
    """Show the event's integrations and whether each is configured."""
    return render_template("admin/integrations.html", event=event,
                           integration=integration_of(db.session, event.id))


@bp.route(THRIVECART + "/")
@organisers_only
def thrivecart(event):
    """Show the ThriveCart set-up: status, checklist, webhook URL and the last deliveries
    (the whole log has a page of its own)."""
    integration = integration_of(db.session, event.id)
    held = held_for_digest(db.session, integration.secret_digest) if integration else []
    linked = linked_tickets(db.session, event.id)
    return render_template(
        "admin/thrivecart.html",
        event=event,
        integration=integration,
        held=held,
        webhook_url=webhook_url(),
        linked=linked,
        last=last_delivery(db.session, event.id, from_thrivecart=True),
        warnings=setup_warnings(linked),
        rejections=rejected_posts(db.session, event.id, integration),
        page=log_of(db.session, event.id, integration, per_page=RECENT),
    )


@bp.route(THRIVECART + "/configure", methods=["GET", "POST"])
@organisers_only
def configure_thrivecart(event):
    """Save (or keep) the event's ThriveCart Secret Word."""
    integration = integration_of(db.session, event.id)
    form = SecretWordForm()
    if form.validate_on_submit() and not (form.secret_word.data or "").strip():
        if integration is not None:
            flash("Secret Word unchanged.", "info")
            return redirect(url_for("admin.thrivecart", event_id=event.id))
        form.secret_word.errors = ["Paste the Secret Word from ThriveCart."]
    else:
        done, _ = submit(form, lambda: set_secret_word(
            db.session, event, form.secret_word.data.strip(),
            current_app.config["SECRET_WORD_KEY"], user=current_user))
        if done:
            flash("Secret Word saved. ThriveCart orders for this event will now be verified "
                  "with it.", "success")
            _say_shared(event)
            return redirect(url_for("admin.thrivecart", event_id=event.id))
    return render_template("admin/thrivecart_configure.html", event=event, form=form,
                           integration=integration,
                           sharing=sharing_events(db.session, event.id, current_user.id)
                           if integration is not None else []), status_of(form)


def _say_shared(event):
    """After a save: name the user's other events that hold the same Secret Word."""
    sharing = sharing_events(db.session, event.id, current_user.id)
    if sharing:
        named = ", ".join(f"“{name}”" for name in sharing)
        flash(f"{named} {'uses' if len(sharing) == 1 else 'use'} this Secret Word too: one "
              "ThriveCart account. Each order it sends reaches every one of these events, "
              "and each grants only what its own tickets link.", "info")


@bp.route(THRIVECART + "/disconnect", methods=["GET", "POST"])
@organisers_only
def disconnect_thrivecart(event):
    """Forget the event's Secret Word (GET asks first, saying what it does)."""
    integration = integration_of(db.session, event.id)
    if integration is None:
        return redirect(url_for("admin.thrivecart", event_id=event.id))
    if request.method == "POST" and submit(ActionForm(), lambda: disconnect(
            db.session, event, user=current_user))[0]:
        flash("ThriveCart disconnected: orders are no longer accepted for this event.",
              "success")
        return redirect(url_for("admin.thrivecart", event_id=event.id))
    return render_template("admin/disconnect.html", event=event, integration=integration,
                           linked=linked_tickets(db.session, event.id))


@bp.route(THRIVECART + "/rejections/dismiss", methods=["POST"])
@organisers_only
def dismiss_rejected(event):
    """Hide the warning about posts rejected so far for a wrong Secret Word."""
    if dismiss_rejections(db.session, event):
        db.session.commit()
        flash("Warning dismissed. Posts rejected from now on will raise it again.", "success")
    return redirect(url_for("admin.thrivecart", event_id=event.id))


@bp.route(THRIVECART + "/held/process", methods=["POST"])
@organisers_only
def process_held(event):
    """Process the orders that arrived before this event's Secret Word was saved."""
    integration = integration_of(db.session, event.id)
    if integration is None:
        flash("Save the Secret Word first.", "error")
        return redirect(url_for("admin.configure_thrivecart", event_id=event.id))
    results = release_held(db.session, integration.secret_digest, user_id=current_user.id)
    processed(event, results, ActivityKind.HELD_RELEASED, plural(len(results), "order"))
    failed = sum(result.status == DeliveryStatus.FAILED for result in results)
    flash(f"Processed {plural(len(results), 'held order')}"
          + (f"; {failed} failed, see the log" if failed else "") + ".",
          "error" if failed else "success")
    return redirect(url_for("admin.thrivecart", event_id=event.id))


@bp.route(THRIVECART + "/test-purchase", methods=["GET", "POST"])
@organisers_only
def test_purchase(event):
    """Run a made-up test-mode order through the real processing, to check the set-up."""
    linked = linked_tickets(db.session, event.id)
    form = TestPurchaseForm(email=current_user.email)
    form.ticket_id.choices = [
        SelectChoice(ticket.id, f"{ticket.name} ({ticket.external_ids[0]})"
                     + ("" if ticket.active else ", inactive"))
        for ticket in linked
    ]
    if form.validate_on_submit():
        ticket = next(ticket for ticket in linked if ticket.id == form.ticket_id.data)
        buyer = Buyer(form.email.data, form.first_name.data or "", form.last_name.data or "")
        result = send_test_purchase(db.session, ticket, buyer, user_id=current_user.id)
        processed(event, [result], ActivityKind.TEST_PURCHASE,
                  f"{ticket.name} ({ticket.external_ids[0]}) for {form.email.data}")
        outcome = result.outcomes[0].outcome if result.outcomes else result.status
        good = outcome in (OutcomeKind.PAID, OutcomeKind.ALREADY_PAID)
        flash(f"Test purchase sent: {outcome.replace('_', ' ')}.", "success" if good else "error")
        return redirect(url_for("admin.delivery", event_id=event.id,
                                delivery_id=result.delivery_id))
    return render_template("admin/test_purchase.html", event=event, form=form,
                           linked=linked), status_of(form)
