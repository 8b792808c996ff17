"""Error pages for people and JSON errors for the API."""

import logging

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def register(app):
    """Render HTTP errors as pages, or as JSON under /api/."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _wants_json():
    return request.path.startswith("/api/")


def _http_error(error):
    if _wants_json():
        return jsonify(status="error", error=error.description), error.code
    return render_template("error.html", error=error), error.code


def _unexpected_error(error):
    log.exception("unhandled error on %s %s", request.method, request.path)
    if _wants_json():
        return jsonify(status="unavailable", error="processing failed; try again"), 503
    return render_template("error.html", error=None), 500
