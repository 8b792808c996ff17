"""Sign in and out."""

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..emails import read_password_token
from ..extensions import db
from ..models import User
from ..security import login_failures
from ..services.accounts import authenticate, end_sessions, password_fingerprint
from ..services.accounts import set_password as change_own_password
from . import bp
from .forms import ActionForm, LoginForm, SetPasswordForm, status_of, submit

WRONG_LOGIN = "Email or password is wrong."


@bp.route("/")
def index():
    """Send people to their events, or to sign in."""
    return redirect(url_for("admin.events" if current_user.is_authenticated else "admin.login"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with email and password."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        client = request.remote_addr or "-"
        if login_failures.exceeded(client):
            form.password.errors = ["Too many failed sign-ins. Wait a minute and try again."]
            return render_template("admin/login.html", form=form), 429
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is not None:
            # A fresh session: nothing an attacker planted before sign-in survives it.
            session.clear()
            login_user(user)
            db.session.commit()
            flash("Signed in.", "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.events"))
        login_failures.record_failure(client)
        form.password.errors = [WRONG_LOGIN]
        status = 401
    return render_template("admin/login.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
@login_required
def logout():
    """Sign out (a POST; GET asks to confirm)."""
    form = ActionForm()
    # A copy of the cookie taken before now must not open anything afterwards.
    if request.method == "POST" and submit(form, lambda: end_sessions(db.session,
                                                                      current_user))[0]:
        logout_user()
        session.clear()
        flash("Signed out.", "success")
        return redirect(url_for("admin.login"))
    return render_template("admin/logout.html", form=form)


def _safe_next(target):
    """Return ``target`` only if it is a path on this site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token):
    """Set a password from a team invitation's link (once, within 7 days)."""
    found = read_password_token(token)
    user = db.session.get(User, found[0]) if found else None
    if user is None or found[1] != password_fingerprint(user):
        return render_template("admin/set_password_invalid.html"), 410
    form = SetPasswordForm()
    if submit(form, lambda: change_own_password(db.session, user, form.password.data))[0]:
        logout_user()
        session.clear()
        flash("Password set. Sign in with it now.", "success")
        return redirect(url_for("admin.login"))
    return render_template("admin/set_password.html", form=form, email=user.email), \
        status_of(form)
