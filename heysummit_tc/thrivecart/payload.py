"""Parse a ThriveCart webhook body, form or JSON, into one nested structure.

ThriveCart posts PHP-style bracket keys (``customer[email]``, ``order[charges][0][amount]``),
with brackets literal or percent-encoded, or the same structure as JSON when the organiser
ticks "Receive results as JSON". The Content-Type header is not trusted to say which.
Bracket keys are decoded by qs-codec, a port of Node's ``qs``, with its depth, list and
parameter limits turned into hard errors so that a hostile body cannot build a structure
larger than its own size suggests.
"""

import json
from urllib.parse import unquote_plus

from qs_codec import DecodeOptions, decode

# ThriveCart nests three levels deep (order[charges][0][name]); five leaves room.
MAX_DEPTH = 5
# Highest list index kept as a list; ThriveCart lists hold a handful of items.
MAX_LIST_INDEX = 100
# Fields in one body; a four-item order has about 150.
MAX_FIELDS = 2000

# The name of the field that carries the Secret Word, not a secret itself.
SECRET_FIELD = "thrivecart_secret"  # noqa: S105  # nosec B105
_COERCED = {"null": None, "true": True, "false": False}


class PayloadError(ValueError):
    """The body is not a payload this endpoint can read; the message says why."""


def parse_payload(body):
    """Return the nested structure of a form or JSON body, or raise PayloadError."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PayloadError("body is not valid UTF-8") from error
    if text.lstrip().startswith(("{", "[")):
        data = _parse_json(text)
    else:
        data = _parse_form(text)
    return _coerce(data)


def _parse_json(text):
    try:
        data = json.loads(text)
    except RecursionError as error:
        raise PayloadError("JSON body is nested too deeply") from error
    except ValueError as error:
        raise PayloadError(f"body is not valid JSON ({error.msg})") from error
    if not isinstance(data, dict):
        raise PayloadError("JSON body must be an object")
    _check_bounds(data)
    return data


def _parse_form(text):
    options = DecodeOptions(
        depth=MAX_DEPTH,
        strict_depth=True,
        list_limit=MAX_LIST_INDEX,
        parameter_limit=MAX_FIELDS,
        raise_on_limit_exceeded=True,
        decoder=_decode_component,
    )
    try:
        data = decode(text, options)
    except UnicodeDecodeError as error:
        raise PayloadError("form body has percent-escapes that are not UTF-8") from error
    except IndexError as error:
        raise PayloadError(f"form body exceeds a limit: {error}") from error
    except RecursionError as error:
        raise PayloadError("form body is nested too deeply") from error
    except (ValueError, TypeError) as error:
        raise PayloadError(f"form body is malformed: {error}") from error
    if not isinstance(data, dict):
        raise PayloadError("form body is malformed")
    return data


def _decode_component(string, charset=None, kind=None):
    """Percent-decode one key or value, refusing byte sequences that are not UTF-8."""
    if string is None:
        return None
    return unquote_plus(string, encoding="utf-8", errors="strict")


def _check_bounds(data):
    """Refuse JSON deeper, wider or with longer lists than a form body may be."""
    fields = 0
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise PayloadError(f"JSON body nests deeper than {MAX_DEPTH} levels")
            if isinstance(value, list) and len(value) > MAX_LIST_INDEX + 1:
                raise PayloadError(f"JSON body has a list longer than {MAX_LIST_INDEX + 1}")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)
        else:
            fields += 1
            if fields > MAX_FIELDS:
                raise PayloadError(f"JSON body has more than {MAX_FIELDS} fields")


def _coerce(value):
    """Turn ThriveCart's "null"/"true"/"false" strings into values and other scalars into text."""
    if isinstance(value, dict):
        return {_check_text(str(key)): _coerce(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_coerce(item) for item in value]
    if isinstance(value, str):
        _check_text(value)
        return _COERCED.get(value, value)
    if value is None or isinstance(value, bool):
        return value
    # A JSON number: ids beyond 2**53 must survive, so keep the digits as text.
    return str(value)


def _check_text(text):
    """Refuse text no database column can hold: NUL characters and lone surrogates."""
    if "\x00" in text:
        raise PayloadError("body contains NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise PayloadError("body contains text that is not valid Unicode") from error
    return text


def redact(payload):
    """Return the payload without the secret word, as it may be stored and shown."""
    return {key: value for key, value in payload.items() if key != SECRET_FIELD}
