"""Parse a ThriveCart webhook body, form or JSON, into one nested structure.

ThriveCart posts PHP-style bracket keys (``customer[email]``, ``order[charges][0][amount]``),
with brackets literal or percent-encoded, or the same structure as JSON when the organiser
ticks "Receive results as JSON". The Content-Type header is not trusted to say which.

Form bodies are split and percent-decoded as the standard library's ``parse_qsl`` does
(strict UTF-8, a cap on the number of fields), and the brackets are nested here, with hard
limits on depth and list indexes, so that a hostile body cannot build a structure larger than
its own size suggests. (qs-codec, a port of Node's qs, was the first choice; it cost 2.4 ms
per ThriveCart body, a third of the webhook's time, and nests lists of lists wrongly.)
"""

import json
import re
from urllib.parse import unquote

# ThriveCart nests three levels deep (order[charges][0][name]); five leaves room.
MAX_DEPTH = 5
# Highest list index kept as a list; ThriveCart lists hold a handful of items.
MAX_LIST_INDEX = 100
# Fields in one body; a four-item order has about 150.
MAX_FIELDS = 2000

# The name of the field that carries the Secret Word, not a secret itself.
SECRET_FIELD = "thrivecart_secret"  # noqa: S105  # nosec B105
_COERCED = {"null": None, "true": True, "false": False}
_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
_APPEND = object()


class PayloadError(ValueError):
    """The body is not a payload this endpoint can read; the message says why."""


def parse_payload(body):
    """Return the nested structure of a form or JSON body, or raise PayloadError.

    PayloadError is the only exception a body can cause: whatever the input, the caller
    answers 400, never a server error.
    """
    try:
        text = body.decode()  # UTF-8
    except UnicodeDecodeError as error:
        raise PayloadError("body is not valid UTF-8") from error
    if text.lstrip().startswith(("{", "[")):
        return _coerce(_parse_json(text))
    return _parse_form(text)


def _parse_json(text):
    try:
        # Numbers stay the digits they were sent as: ids pass 2**53, and no digit string,
        # however long, meets Python's int conversion limit.
        data = json.loads(text, parse_int=str, parse_float=str, parse_constant=_refuse_constant)
    except RecursionError as error:
        raise PayloadError("JSON body is nested too deeply") from error
    except json.JSONDecodeError as error:
        raise PayloadError(f"body is not valid JSON ({error.msg})") from error
    if not isinstance(data, dict):
        raise PayloadError("JSON body must be an object")
    _check_bounds(data)
    return data


def _refuse_constant(name):
    raise PayloadError(f"body is not valid JSON ({name} is not a number)")


def _is_index(segment):
    """Tell whether a bracket segment is a list index: ASCII digits only (``²`` is not)."""
    return segment.isascii() and segment.isdigit()


def _parse_form(text):
    """The nested structure of a form body, its "null"/"true"/"false" read as values.

    Its text needs no check beyond NULs: the body decoded as strict UTF-8 and so do its
    percent-escapes, which leaves no lone surrogate, and only a literal NUL or ``%00``
    decodes to one.
    """
    if "\x00" in text or "%00" in text:
        raise PayloadError("body contains NUL characters")
    fields = text.split("&")
    if len(fields) > MAX_FIELDS:
        raise PayloadError(f"form body has more than {MAX_FIELDS} fields")
    root = {}
    try:
        for field in fields:
            if not field:
                continue
            # As parse_qsl splits a field, a name without "=" having an empty value.
            name, _, value = field.partition("=")
            key, path = _field(name)
            if "%" in value or "+" in value:
                value = _decoded(value)
            _assign(root, key, path, _COERCED.get(value, value))
    except UnicodeDecodeError as error:
        raise PayloadError("form body has percent-escapes that are not UTF-8") from error
    # The top level is always an object of fields, even one named "0".
    return {key: _as_lists(value) for key, value in root.items()}


def _decoded(text):
    """A form name or value, its "+" a space and its percent-escapes strict UTF-8 (a bad
    escape is an error, not a "?")."""
    return unquote(text.replace("+", " "), errors="strict")


def _field(name):
    """A form field's name as sent (``customer%5Bemail%5D``): its decoded key, and the path
    of its brackets (see :func:`_path`)."""
    key = _decoded(name)
    return key, _path(key)


def _assign(root, key, path, value):
    """Put ``value`` where ``path``, the bracket key ``key`` (``a[b][0][]``), points, creating
    groups on the way."""
    *groups, last = path
    node = root
    for segment in groups:
        child = node.setdefault(_appended(node, key) if segment is _APPEND else segment, {})
        if not isinstance(child, dict):
            raise PayloadError(f"form field {key[:40]!r} is both a value and a group")
        node = child
    if last is _APPEND:
        last = _appended(node, key)
    if isinstance(node.get(last), dict):
        raise PayloadError(f"form field {key[:40]!r} is both a value and a group")
    node[last] = value  # a repeated field keeps its last value, as in PHP


def _path(key):
    """The segments of a bracket key, checked: ``a[b][0][]`` is ("a", "b", "0", _APPEND)."""
    match = _KEY.fullmatch(key)
    if match is None:
        raise PayloadError(f"form field name {key[:40]!r} has unbalanced brackets")
    path = (match.group(1), *(_APPEND if segment == "" else segment
                              for segment in _SEGMENT.findall(match.group(2))))
    if len(path) - 1 > MAX_DEPTH:
        raise PayloadError(f"form field {key[:40]!r} nests deeper than {MAX_DEPTH} levels")
    if any(segment is not _APPEND and _is_index(segment)
           and (len(segment) > 3 or int(segment) > MAX_LIST_INDEX) for segment in path):
        raise PayloadError(f"form field {key[:40]!r} has a list index over {MAX_LIST_INDEX}")
    return path


def _appended(node, key):
    """The index a ``[]`` segment appends at."""
    if len(node) > MAX_LIST_INDEX:
        raise PayloadError(f"form field {key[:40]!r} has a list index over {MAX_LIST_INDEX}")
    return str(len(node))


def _as_lists(node):
    """Turn groups keyed 0, 1, 2... into lists, in index order, as PHP arrays are."""
    if not isinstance(node, dict):
        return node
    items = {key: _as_lists(value) for key, value in node.items()}
    if items and all(_is_index(key) for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


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
    """Turn a JSON body's "null"/"true"/"false" strings into values, checking all text."""
    if isinstance(value, dict):
        return {_check_text(key): _coerce(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_coerce(item) for item in value]
    if isinstance(value, str):
        _check_text(value)
        return _COERCED.get(value, value)
    return value  # JSON's null, true or false (its numbers arrive as their digits)


def _check_text(text):
    """Refuse text no database column can hold: NUL characters and lone surrogates."""
    if "\x00" in text:
        raise PayloadError("body contains NUL characters")
    try:
        text.encode()  # UTF-8
    except UnicodeEncodeError as error:
        raise PayloadError("body contains text that is not valid Unicode") from error
    return text


def redact(payload):
    """Return the payload without the secret word, as it may be stored and shown."""
    return {key: value for key, value in payload.items() if key != SECRET_FIELD}
