"""Event Setup > Integrations > ThriveCart Checkout."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import db
from ..services import ServiceError
from ..services.deliveries import STATUSES, deliveries_of, last_delivery, setup_warnings
from ..services.integrations import disconnect, integration_of, set_secret_word
from ..services.tickets import tickets_of
from . import bp
from .access import apply_service_error, organisers_only
from .forms import SecretWordForm

THRIVECART = "/events/<int:event_id>/setup/integrations/thrivecart"


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
    """Show the ThriveCart set-up: status, checklist, webhook URL and the delivery log."""
    status = request.args.get("status", "")
    query = request.args.get("q", "").strip()
    before = request.args.get("before", type=int)
    tickets = [ticket for ticket, _count in tickets_of(db.session, event.id)]
    return render_template(
        "admin/thrivecart.html",
        event=event,
        integration=integration_of(db.session, event.id),
        webhook_url=webhook_url(),
        linked=[ticket for ticket in tickets if ticket.external_id],
        last=last_delivery(db.session, event.id),
        warnings=setup_warnings(db.session, event.id),
        page=deliveries_of(db.session, event.id, status=status, query=query, before=before),
        statuses=STATUSES, status=status, query=query, before=before,
    )


@bp.route(THRIVECART + "/configure", methods=["GET", "POST"])
@organisers_only
def configure_thrivecart(event):
    """Save (or keep) the event's ThriveCart Secret Word."""
    integration = integration_of(db.session, event.id)
    form = SecretWordForm()
    if form.validate_on_submit():
        secret_word = (form.secret_word.data or "").strip()
        if not secret_word and integration is not None:
            flash("Secret Word unchanged.", "info")
            return redirect(url_for("admin.thrivecart", event_id=event.id))
        if not secret_word:
            form.secret_word.errors = ["Paste the Secret Word from ThriveCart."]
        else:
            try:
                set_secret_word(db.session, event, secret_word,
                                current_app.config["SECRET_WORD_KEY"], user=current_user)
            except ServiceError as error:
                apply_service_error(form, error, flash)
            else:
                db.session.commit()
                flash("Secret Word saved. ThriveCart orders for this event will now be "
                      "verified with it.", "success")
                return redirect(url_for("admin.thrivecart", event_id=event.id))
    status = 400 if form.errors else 200
    return render_template("admin/thrivecart_configure.html", event=event, form=form,
                           integration=integration), status


@bp.route(THRIVECART + "/disconnect", methods=["POST"])
@organisers_only
def disconnect_thrivecart(event):
    """Forget the event's Secret Word."""
    disconnect(db.session, event)
    db.session.commit()
    flash("ThriveCart disconnected: orders are no longer accepted for this event.", "success")
    return redirect(url_for("admin.thrivecart", event_id=event.id))
