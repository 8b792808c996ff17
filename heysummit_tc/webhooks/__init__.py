"""The ThriveCart webhook: no login, no cookie, no CSRF; the Secret Word is the credential."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")

from . import views  # noqa: E402,F401  (routes register on import)
