"""Plain helpers tests import: fixture payloads and ThriveCart-shaped bodies."""

import json
from pathlib import Path

from qs_codec import EncodeOptions, ListFormat, encode

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_SECRET = "K7Q2M9X4TZ1B"
PASSWORD = "correct horse battery"


def load_fixture(name):
    """Return a fixture payload as the nested structure ThriveCart describes."""
    return json.loads((FIXTURES / name).read_text())


def fixture_bytes(name):
    return (FIXTURES / name).read_bytes().strip()


def form_body(payload, encode_brackets=True):
    """Encode a nested payload the way ThriveCart posts forms (PHP bracket keys)."""
    options = EncodeOptions(list_format=ListFormat.INDICES, encode=True,
                            encode_values_only=not encode_brackets)
    return encode(payload, options).encode()


def json_body(payload):
    return json.dumps(payload).encode()


def post_webhook(client, body, content_type="application/x-www-form-urlencoded", path=None):
    """POST a body to the webhook as ThriveCart would."""
    return client.post(path or "/api/webhooks/thrivecart/", data=body,
                       content_type=content_type)

