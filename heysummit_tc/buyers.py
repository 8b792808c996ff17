"""The buyer's side: the page an access link opens, and asking for a fresh link."""

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from .emails import read_access_token
from .extensions import db
from .jobs import wake_email_worker
from .models import AccessLink, EmailKind
from .security import FailureLimit
from .services.access_emails import queue_email
from .services.access_links import (
    LinkProblem,
    attendee_of_link,
    check_link,
    open_link,
    reopen_link,
)

bp = Blueprint("access", __name__)
# Fresh links a client may ask for, and that one address may receive, whoever asks.
fresh_links = FailureLimit("fresh-link", "FRESH_LINK_RATE_LIMIT")
fresh_links_to = FailureLimit("fresh-link-to", "FRESH_LINK_RECIPIENT_RATE_LIMIT")


class OpenForm(FlaskForm):
    """Just the button that opens the tickets: a plain GET (a mail scanner's) uses nothing."""


class FreshLinkForm(FlaskForm):
    """Just the button: a fresh link goes to the address the used one was sent to, never to
    an address typed in (anyone holding an old link could otherwise mail any buyer)."""


def _link_id_or_404(token):
    link_id = read_access_token(token)
    if link_id is None:
        abort(404)
    return link_id


def _cookie(link_id):
    return f"access_{link_id}"


@bp.route("/access/<token>")
def show(token):
    """The link's page: the tickets again for the browser that opened it; else, while it is
    unused, a button that opens them (so that a mail scanner's GET uses nothing); else an
    offer of a fresh link."""
    link_id = _link_id_or_404(token)
    opened = reopen_link(db.session, link_id, request.cookies.get(_cookie(link_id)))
    if opened is not None:
        return _no_store(render_template("access/show.html", opened=opened), 200)
    try:
        check_link(db.session, link_id)
    except LinkProblem as problem:
        return _problem(link_id, token, problem)
    return _no_store(render_template("access/open.html", form=OpenForm(), token=token), 200)


@bp.route("/access/<token>", methods=["POST"])
def open_tickets(token):
    """Use the link, and let this browser open it again: its page then shows the tickets."""
    link_id = _link_id_or_404(token)
    form = OpenForm()
    if not form.validate_on_submit():
        return _no_store(render_template("access/open.html", form=form, token=token), 400)
    try:
        key = open_link(db.session, link_id)
    except LinkProblem as problem:
        db.session.rollback()
        return _problem(link_id, token, problem)
    db.session.commit()
    expires_at = db.session.get(AccessLink, link_id).expires_at
    response = redirect(url_for("access.show", token=token), 303)
    response.set_cookie(_cookie(link_id), key, expires=expires_at, path="/access/",
                        secure=current_app.config["SESSION_COOKIE_SECURE"], httponly=True,
                        samesite="Lax")
    return response


def _problem(link_id, token, problem):
    attendee = attendee_of_link(db.session, link_id)
    if attendee is None:
        abort(404)
    return _no_store(render_template("access/problem.html", problem=problem.message,
                                     form=FreshLinkForm(), token=token), 410)


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

