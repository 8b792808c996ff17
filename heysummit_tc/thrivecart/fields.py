"""Reading one field of a parsed payload whatever shape it arrived in."""

import html


def mapping(value):
    return value if isinstance(value, dict) else {}


def values(value):
    # A list with indexes past the parser's list limit arrives as a dict keyed by index.
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list):
        return value
    return []


def text(value):
    return value if isinstance(value, str) else ""


def name(value):
    return html.unescape(text(value)).strip()


