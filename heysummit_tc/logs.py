"""Logging: one line per request and per delivery, each with the request's id."""

import json
import logging
import re
import time
import uuid

from flask import g, has_request_context, request

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamp every record with the id of the request it was logged in."""

    def filter(self, record):
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """Format records as one JSON object a line."""

    def format(self, record):
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(app):
    """Send the app's logs to stderr in the configured format and log each request."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    logger = logging.getLogger("heysummit_tc")
    logger.handlers = [handler]
    logger.setLevel(app.config["LOG_LEVEL"].upper())
    logger.propagate = False
    app.before_request(_start_request)
    app.after_request(_log_request)


def _start_request():
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex[:16]
    g.request_started = time.perf_counter()


def _log_request(response):
    elapsed_ms = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    # The path only: query strings are the caller's and may hold anything.
    logging.getLogger("heysummit_tc.request").info(
        "%s %s %s %.1fms", request.method, request.path, response.status_code, elapsed_ms,
        extra={"fields": {"method": request.method, "path": request.path,
                          "status": response.status_code,
                          "duration_ms": round(elapsed_ms, 1)}},
    )
    return response
