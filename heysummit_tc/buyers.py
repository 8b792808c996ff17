"""The buyer's side: the page an access link opens, and asking for a fresh link."""

from flask import Blueprint, abort, current_app, render_template, request
from flask_wtf import FlaskForm

from .emails import read_access_token
from .extensions import db
from .jobs import wake_email_worker
from .models import EmailKind
from .security import FailureLimit
from .services.access_emails import queue_email
from .services.access_links import LinkProblem, attendee_of_link, open_link

bp = Blueprint("access", __name__)
# Fresh links a client may ask for, and that one address may receive, whoever asks.
fresh_links = FailureLimit("fresh-link", "FRESH_LINK_RATE_LIMIT")
fresh_links_to = FailureLimit("fresh-link-to", "FRESH_LINK_RECIPIENT_RATE_LIMIT")


class FreshLinkForm(FlaskForm):
    """Just the button: a fresh link goes to the address the used one was sent to, never to
    an address typed in (anyone holding an old link could otherwise mail any buyer)."""


def _link_id_or_404(token):
    link_id = read_access_token(token)
    if link_id is None:
        abort(404)
    return link_id


@bp.route("/access/<token>")
def show(token):
    """Show the buyer their tickets, once; a used or expired link offers a fresh one."""
    link_id = _link_id_or_404(token)
    try:
        opened = open_link(db.session, link_id)
    except LinkProblem as problem:
        db.session.rollback()
        attendee = attendee_of_link(db.session, link_id)
        if attendee is None:
            abort(404)
        return _no_store(render_template("access/problem.html", problem=problem.message,
                                         form=FreshLinkForm(), token=token), 410)
    db.session.commit()
    return _no_store(render_template("access/show.html", opened=opened), 200)


@bp.route("/access/<token>/fresh", methods=["POST"])
def fresh(token):
    """Email a fresh link to the address the link was sent to, within both limits."""
    link_id = _link_id_or_404(token)
    attendee = attendee_of_link(db.session, link_id)
    if attendee is None:
        abort(404)
    form = FreshLinkForm()
    if not form.validate_on_submit():
        return _no_store(render_template("access/problem.html", problem=None, form=form,
                                         token=token), 400)
    if not fresh_links.record_failure(request.remote_addr or "-"):
        abort(429, "Too many requests for fresh links from here; try again later.")
    if not fresh_links_to.record_failure(str(attendee.id)):
        abort(429, "Several fresh links were sent to this address lately; use the newest one, "
                   "or try again later.")
    queue_email(db.session, attendee, EmailKind.FRESH_LINK)
    db.session.commit()
    wake_email_worker()
    return _no_store(render_template("access/sent.html"), 200)


def _no_store(page, status):
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    return response

