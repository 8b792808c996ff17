"""The Secret Word (and passwords) appear in no log line, stored row, page or response."""

from sqlalchemy import select, text

from heysummit_tc.models import Base, ThriveCartIntegration
from heysummit_tc.services.integrations import secret_digest

from helpers import form_body, load_fixture, post_webhook

SENTINEL = "S3NT1NELW0RDQ"
SENTINEL_PASSWORD = "pw-S3NT1NEL-pw"


def database_text(session):
    """Every row of every table, as text."""
    rows = []
    for table in Base.metadata.sorted_tables:
        rows += [str(tuple(row)) for row in session.execute(text(f"SELECT * FROM {table.name}"))]
    return "\n".join(rows)


def test_secret_word_and_passwords_never_leak(app, client, runner, login, make_user,
                                             make_event, make_ticket, session, capfd):
    seen = []
    result = runner.invoke(args=["users", "create", "ada@example.com", "--password"],
                           input=f"{SENTINEL_PASSWORD}\n{SENTINEL_PASSWORD}\n")
    assert result.exit_code == 0
    seen.append(result.output.replace("Password: ", ""))
    event_id = make_event("Growth Summit", organiser=session.scalar(
        text("SELECT id FROM users WHERE email = 'ada@example.com'")))
    make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    # Orders that arrive before the Secret Word is saved are held.
    early = load_fixture("order-success.json") | {"thrivecart_secret": SENTINEL,
                                                  "order_id": "early"}
    seen.append(post_webhook(client, form_body(early)).get_data(as_text=True))
    login("ada@example.com", SENTINEL_PASSWORD)

    configure = f"/events/{event_id}/setup/integrations/thrivecart/configure"
    response = client.post(configure, data={"secret_word": f"  {SENTINEL}  "})
    assert response.status_code == 302
    integration = session.scalars(select(ThriveCartIntegration)).one()
    assert integration.secret_digest == secret_digest(app.config["SECRET_WORD_KEY"], SENTINEL)
    assert integration.secret_last3 == SENTINEL[-3:]

    payload = load_fixture("order-success.json") | {"thrivecart_secret": SENTINEL}
    for body in (
        form_body(payload),                                                 # processed
        form_body(payload | {"event": "order.subscription_payment"}),       # ignored
        form_body(payload | {"customer": {"email": "nope"}}),               # 422
        form_body(payload | {"thrivecart_secret": SENTINEL + "X"}),         # 403, held
        form_body(payload) + b"&a[b][c][d][e][f][g]=1",                     # 400
    ):
        seen.append(post_webhook(client, body).get_data(as_text=True))
    thrivecart = f"/events/{event_id}/setup/integrations/thrivecart/"
    released = client.post(thrivecart + "held/process", follow_redirects=True)
    assert "Processed 1 held order." in released.get_data(as_text=True)
    seen.append(released.get_data(as_text=True))
    seen.append(client.post(thrivecart + "deliveries/1/replay", follow_redirects=True)
                .get_data(as_text=True))
    seen.append(runner.invoke(args=["thrivecart", "replay", "--failed"]).output)
    seen.append(runner.invoke(args=["thrivecart", "replay", "1"]).output)
    client.post("/logout")
    wrong = client.post("/login", data={"email": "ada@example.com",
                                        "password": SENTINEL_PASSWORD + "x"})
    seen.append(wrong.get_data(as_text=True))
    login("ada@example.com", SENTINEL_PASSWORD)

    for path in (configure, f"/events/{event_id}/setup/integrations/thrivecart/",
                 f"/events/{event_id}/setup/integrations/", f"/events/{event_id}/",
                 f"/events/{event_id}/attendees/", f"/events/{event_id}/attendees.csv",
                 *(f"/events/{event_id}/setup/integrations/thrivecart/deliveries/{n}/"
                   for n in range(1, 5))):
        response = client.get(path)
        assert response.status_code == 200, path
        seen.append(response.get_data(as_text=True))

    page = client.get(configure).get_data(as_text=True)
    assert "•••••••••" + SENTINEL[-3:] in page
    assert 'type="password"' in page
    out, err = capfd.readouterr()
    for haystack in (*seen, out, err, database_text(session)):
        assert SENTINEL not in haystack
        assert SENTINEL_PASSWORD not in haystack
