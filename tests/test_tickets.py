"""Revenue > Tickets: External IDs, uniqueness and prices."""

import html
import re

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from heysummit_tc.models import Attendee, Ticket, TicketExternalId, TicketPrice, TicketPurchase
from heysummit_tc.services import ServiceError
from heysummit_tc.services.money import format_amount, parse_amount
from heysummit_tc.services.tickets import normalize_external_id
from heysummit_tc.thrivecart.items import NO_ID_IN_URL, ItemIdProblem, read_external_id

from helpers import import_buyers, post_webhook
from orders import success


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("product-2", "product-2"),
        ("upsell-2", "upsell-2"),
        ("downsell-2", "downsell-2"),
        ("bump-2", "bump-2"),
        ("  Product-12  ", "product-12"),
        ("PRODUCT-7", "product-7"),
        ("product_12", "product-12"),
        ("bump_3", "bump-3"),
        ("upsell-0042", "upsell-42"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_external_id_is_accepted_and_normalised(typed, stored):
    assert normalize_external_id(typed) == stored


@pytest.mark.parametrize(
    "typed",
    ["product", "product-", "product-0", "product-x", "product 2", "product--2", "products-2",
     "subscription-2", "-2", "product-2a", "product-1.5", "product-−2", "product-٣",
     "product-2,bump-2"],
)
def test_external_id_is_rejected_with_the_accepted_formats(typed):
    with pytest.raises(ServiceError) as caught:
        normalize_external_id(typed)
    assert caught.value.field == "external_id"
    assert "product-2, upsell-2, downsell-2 or bump-2" in caught.value.message


def test_ticket_form_saves_normalised_external_id(client, session, signed_in):
    event_id = signed_in(email="ed@example.com")
    response = client.post(f"/events/{event_id}/revenue/tickets/new",
                           data={"name": "All access", "external_id": " Product_12 ",
                                 "active": "y"})
    assert response.status_code == 302
    ticket = session.scalar(select(Ticket).where(Ticket.event_id == event_id))
    assert (ticket.name, ticket.external_ids, ticket.active) == ("All access", ["product-12"], True)


def test_ticket_form_shows_formats_next_to_a_wrong_external_id(
    client, make_ticket, session, signed_in
):
    event_id = signed_in(email="ed@example.com")
    ticket_id = make_ticket(event_id, "VIP", "upsell-3")
    response = client.post(f"/events/{event_id}/revenue/tickets/{ticket_id}/",
                           data={"name": "VIP", "external_id": "upsell 3"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="external_id-error"' in page and 'aria-invalid="true"' in page
    assert "product-2, upsell-2, downsell-2 or bump-2" in page
    assert session.get(Ticket, ticket_id).external_ids == ["upsell-3"]


def test_external_id_clash_names_the_ticket_holding_it(client, make_ticket, session, signed_in):
    event_id = signed_in(email="ed@example.com")
    make_ticket(event_id, "All-Access Pass", "product-2")
    response = client.post(f"/events/{event_id}/revenue/tickets/new",
                           data={"name": "Copy", "external_id": "PRODUCT_2"})
    page = response.get_data(as_text=True)
    assert "product-2 is already an External ID of the ticket “All-Access Pass”" in page
    assert session.scalar(select(Ticket).where(Ticket.name == "Copy")) is None


def test_same_external_id_is_fine_in_another_event(make_event, make_ticket, session):
    first, second = make_event(), make_event()
    make_ticket(first, "A", "product-2")
    make_ticket(second, "B", "product-2")
    assert len(session.scalars(select(Ticket).where(Ticket.links.any(key="product-2"))).all()) == 2


def test_database_refuses_a_duplicate_external_id(make_event, make_ticket, session):
    event_id = make_event()
    make_ticket(event_id, "A", "bump-2")
    session.add(Ticket(event_id=event_id, name="B",
                       links=[TicketExternalId(event_id=event_id, key="bump-2")]))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    # Tickets without an External ID never clash.
    session.add_all([Ticket(event_id=event_id, name="C"), Ticket(event_id=event_id, name="D")])
    session.flush()


@pytest.mark.parametrize(
    ("typed", "currency", "minor", "shown"),
    [("97.00", "USD", 9700, "97.00"), ("97", "USD", 9700, "97.00"), ("0.5", "EUR", 50, "0.50"),
     ("1,497.00", "USD", 149700, "1497.00"), ("5000", "JPY", 5000, "5000"),
     ("1.250", "KWD", 1250, "1.250"), ("0", "GBP", 0, "0.00")],
)
def test_prices_round_trip_between_major_and_minor_units(typed, currency, minor, shown):
    assert parse_amount(typed, currency) == minor
    assert format_amount(minor, currency) == shown


@pytest.mark.parametrize("typed", ["", "abc", "-1.00", "97.001", "NaN", "Infinity", "1e400"])
def test_bad_amounts_say_what_to_type(typed):
    with pytest.raises(ServiceError) as caught:
        parse_amount(typed, "USD")
    assert caught.value.field == "amount"


def test_price_form_stores_minor_units_and_shows_major(client, make_ticket, session, signed_in):
    event_id = signed_in(email="ed@example.com", currency="EUR")
    ticket_id = make_ticket(event_id, "General")
    url = f"/events/{event_id}/revenue/tickets/{ticket_id}/"
    response = client.post(url + "prices", data={"price-amount": "97.00",
                                                 "price-currency": "eur"})
    assert response.status_code == 302
    price = session.scalar(select(TicketPrice).where(TicketPrice.ticket_id == ticket_id))
    assert (price.amount, price.currency) == (9700, "EUR")
    assert "97.00\u00a0EUR" in client.get(url).get_data(as_text=True)
    tickets = client.get(f"/events/{event_id}/revenue/tickets/").get_data(as_text=True)
    assert "97.00\u00a0EUR" in tickets

    response = client.post(url + "prices", data={"price-amount": "ninety",
                                                 "price-currency": "EUR"})
    assert response.status_code == 400
    assert "Enter an amount such as 97.00." in response.get_data(as_text=True)

    response = client.post(url + f"prices/{price.id}/delete")
    assert response.status_code == 302
    session.expire_all()
    assert session.scalar(select(TicketPrice).where(TicketPrice.ticket_id == ticket_id)) is None


def test_price_currency_defaults_to_the_events(client, make_ticket, signed_in):
    event_id = signed_in(email="ed@example.com", currency="GBP")
    ticket_id = make_ticket(event_id, "General")
    page = client.get(f"/events/{event_id}/revenue/tickets/{ticket_id}/").get_data(as_text=True)
    currency_input = re.search(r'<input[^>]*name="price-currency"[^>]*>', page).group(0)
    assert 'value="GBP"' in currency_input


def test_ticket_help_text_says_where_thrivecart_shows_the_id(client, signed_in):
    event_id = signed_in(email="ed@example.com")
    page = html.unescape(
        client.get(f"/events/{event_id}/revenue/tickets/new").get_data(as_text=True))
    assert "External ID" in page
    assert "the number at the end of that URL" in page and "ThriveCart's editor" in page


def test_the_tickets_page_counts_purchases_however_they_come_and_go(
    client, make_user, make_event, make_ticket, connect, login, session
):
    event_id = make_event("Summit", organiser=make_user("ada@example.com"))
    main = make_ticket(event_id, "All-Access", "product-12", [("97.00", "USD")])
    extra = make_ticket(event_id, "Workbook", "product-13", [("9.00", "USD")])
    connect(event_id)
    for n in range(40):  # buyers spread over every shard, some of them twice
        assert post_webhook(client, success(order_id=f"O{n}", email=f"b{n}@example.com")
                            ).status_code == 200
    post_webhook(client, success(order_id="O0", email="b0@example.com"))
    for n in range(5):
        post_webhook(client, success(order_id=f"W{n}", key="product-13",
                                     email=f"b{n}@example.com"))

    def shown():
        login("ada@example.com")
        page = client.get(f"/events/{event_id}/revenue/tickets/").get_data(as_text=True)
        return [int(number) for number in re.findall(
            r'data-label="Purchases" class="num">(\d+)<', page)]

    def truth(ticket_id):
        return session.scalar(select(func.count()).select_from(TicketPurchase)
                              .where(TicketPurchase.ticket_id == ticket_id))

    assert shown() == [40, 5] == [truth(main), truth(extra)]
    # Deleting buyers removes their purchases by cascade; moving one purchase to the other
    # ticket moves its count.
    session.execute(delete(Attendee).where(Attendee.email.in_(["b1@example.com",
                                                               "b7@example.com"])))
    session.execute(update(TicketPurchase).where(TicketPurchase.thrivecart_order_id == "O9")
                    .values(ticket_id=extra))
    session.commit()
    assert shown() == [37, 5] == [truth(main), truth(extra)]

    # An import writes thousands of purchases in a few statements; deleting an event's
    # buyers removes as many at once. Each is counted once, whatever the shard.
    imported = import_buyers(session, event_id, main, 3000)
    assert shown() == [3037, 5] == [truth(main), truth(extra)]
    session.execute(delete(Attendee).where(Attendee.id.in_(imported[:1001])))
    session.commit()
    assert shown() == [2036, 5] == [truth(main), truth(extra)]


@pytest.mark.parametrize(("typed", "item_type", "stored"), [
    # The item's editor URL in ThriveCart ends in its id (the help article: "copy its
    # ThriveCart item ID from the ThriveCart product URL").
    ("https://thrivecart.com/app/#/products/edit/12", "product", "product-12"),
    ("https://examplesummits.thrivecart.com/admin/products/edit/12/", "product", "product-12"),
    ("https://thrivecart.com/examplesummits/products/12/?tab=pricing", "product", "product-12"),
    ("thrivecart.com/app/#/products/12/edit", "product", "product-12"),
    ("https://thrivecart.com/app/#/upsells/edit/3", "product", "upsell-3"),
    ("https://thrivecart.com/app/#/downsells/edit/5/", "product", "downsell-5"),
    # A bump's id is the product's: its URL is the product's, the type comes from beside.
    ("https://thrivecart.com/app/#/products/edit/12", "bump", "bump-12"),
    ("12", "product", "product-12"),
    ("012", "bump", "bump-12"),
    ("product_12", "upsell", "product-12"),
])
def test_external_id_takes_a_thrivecart_url_or_a_number_with_its_type(
    client, session, typed, item_type, stored, signed_in
):
    event_id = signed_in(email="ed@example.com", name="Fresh")
    saved = client.post(f"/events/{event_id}/revenue/tickets/new", data={
        "name": "From a URL", "external_id": typed, "item_type": item_type, "active": "y",
        "on_payment_failed": "keep", "on_cancel": "keep"}, follow_redirects=True)
    assert f"created with External ID {stored}" in html.unescape(saved.get_data(as_text=True))
    assert session.scalar(select(Ticket).where(Ticket.name == "From a URL")).external_ids == \
        [stored]


@pytest.mark.parametrize("typed", [
    "https://examplesummits.thrivecart.com/growth-summit/",  # a checkout URL: no id in it
    "https://thrivecart.com/app/#/products",
])
def test_a_url_without_an_id_says_where_to_find_it_and_nothing_is_cut(client, typed, signed_in):
    event_id = signed_in(email="ed@example.com", name="Fresh")
    long_typed = typed + "?utm_source=" + "x" * 300
    refused = client.post(f"/events/{event_id}/revenue/tickets/new", data={
        "name": "No id", "external_id": long_typed, "item_type": "product", "active": "y",
        "on_payment_failed": "keep", "on_cancel": "keep"})
    assert refused.status_code == 400
    page = html.unescape(refused.get_data(as_text=True))
    assert "This URL has no item id." in page
    assert "the id is the number at its end" in page
    assert f'value="{long_typed}"' in page  # kept whole, to be corrected
    assert 'maxlength="40"' not in page


@pytest.mark.parametrize(("typed", "item_type", "message"), [
    ("12", "coupon", "Choose the item type: product, upsell, downsell, bump."),
    ("0", "product", "ThriveCart item ids are whole numbers from 1."),
    ("1" + "0" * 18, "product", "ThriveCart item ids are whole numbers from 1."),
    ("https://thrivecart.com/app/#/products/edit/0", "product", NO_ID_IN_URL),
    ("https://thrivecart.com/app/#/products/edit/" + "1" * 19, "product", NO_ID_IN_URL),
    ("www.thrivecart.com/app/", "product", NO_ID_IN_URL),
    ("WWW.ThriveCart.com", "product", NO_ID_IN_URL),
    ("thrivecart.com", "product", NO_ID_IN_URL),
    # The host's digits are not the id, with or without a scheme.
    ("shop7.thrivecart.com/app/", "product", NO_ID_IN_URL),
    ("https://shop7.thrivecart.com/app/", "product", NO_ID_IN_URL),
    ("twelve", "product", "“twelve” is not a ThriveCart item id. Use product-2, upsell-2, "
                          "downsell-2 or bump-2, a number with its item type, or the item's "
                          "ThriveCart URL."),
])
def test_what_cannot_be_an_item_id_says_what_to_type(typed, item_type, message):
    with pytest.raises(ItemIdProblem) as caught:
        read_external_id(typed, item_type)
    assert str(caught.value) == message


@pytest.mark.parametrize(("typed", "stored"), [
    ("999999999999999999", "product-999999999999999999"),  # the largest id kept
    ("1", "product-1"),
    ("https://thrivecart.com/app/#/products/edit/1", "product-1"),
    ("https://thrivecart.com/app/#/products/edit/" + "9" * 18, "product-" + "9" * 18),
    ("https://thrivecart.com/app/#/products/edit/12?tab=2", "product-12"),
    ("https://thrivecart.com/app/#/upsell/edit/7?from=upsells", "upsell-7"),
    ("thrivecart.com/examplesummits/downsells/4", "downsell-4"),
])
def test_the_edges_of_what_an_item_id_can_be(typed, stored):
    assert read_external_id(typed) == stored
