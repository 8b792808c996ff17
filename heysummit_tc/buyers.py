"""The buyer's side: the page an access link opens, and asking for a fresh link."""

from flask import Blueprint, abort, current_app, render_template, request
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length

from .emails import read_access_token
from .extensions import db
from .jobs import wake_email_worker
from .models import EmailKind
from .security import FailureLimit
from .services.access_emails import (
    LinkProblem,
    attendee_of_link,
    find_attendee,
    open_link,
    queue_email,
)

bp = Blueprint("access", __name__)
fresh_links = FailureLimit("fresh-link", "FRESH_LINK_RATE_LIMIT")


class FreshLinkForm(FlaskForm):
    email = EmailField("Your email", validators=[DataRequired(), Email(), Length(max=254)])


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
    """Email a fresh link to the address, if it holds tickets here; never say whether."""
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
    found = find_attendee(db.session, attendee.event_id, form.email.data)
    if found is not None:
        queue_email(db.session, found, EmailKind.FRESH_LINK)
        db.session.commit()
        wake_email_worker()
    return _no_store(render_template("access/sent.html"), 200)


def _no_store(page, status):
    response = current_app.make_response((page, status))
    response.headers["Cache-Control"] = "no-store"
    return response

