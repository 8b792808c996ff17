"""The schema comes only from migrations, and the models never drift from them."""

from heysummit_tc.extensions import db

# Activity kinds added after the CHECK constraint on them (migration a9d4e2c7b316).
LATER_KINDS = {"item_ignored", "item_restored", "attention_resolved", "attendee_edited",
               "ticket_granted", "ticket_revoked", "test_orders_deleted", "price_added",
               "price_removed", "alerts_changed"}


def test_the_models_and_the_migrated_schema_never_drift(runner):
    """`flask db check` compares the models with the database the migrations built."""
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output


def test_the_lifecycle_migration_carries_existing_rows_over(make_app, blank_database_url):
    """Rows written before the lifecycle keep their meaning after it."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    app = make_app(SQLALCHEMY_DATABASE_URI=blank_database_url)
    with app.app_context():
        upgrade(revision="6a87710a25f3")
        statements = [
            "INSERT INTO users (id, email, password_hash, session_token, created_at) "
            "VALUES (1, 'ada@example.com', 'x', 't', :now)",
            "INSERT INTO events (id, name, currency, created_at) VALUES (1, 'S', 'USD', :now)",
            "INSERT INTO tickets (id, event_id, name, active, external_id, created_at, "
            "updated_at) VALUES (1, 1, 'T', :yes, 'product-12', :now, :now)",
            "INSERT INTO attendees (id, event_id, email, first_name, last_name, created_at, "
            "updated_at) VALUES (1, 1, 'b@example.com', '', '', :now, :now)",
            # A EUR order's charge, stored (wrongly) beside the USD price.
            "INSERT INTO ticket_purchases (id, attendee_id, ticket_id, status, amount, "
            "currency, charged_amount, source, thrivecart_order_id, test, created_at, "
            "updated_at) VALUES (1, 1, 1, 'refunded', 14700, 'USD', 3000, 'thrivecart', '42', "
            ":no, :now, :now)",
            "INSERT INTO webhook_deliveries (id, received_at, source, event_type, mode, test, "
            "thrivecart_account, order_id, status, attempts, payload) VALUES (1, :now, "
            "'webhook', 'order.success', 'live', :no, 'a', '42', 'processed', 1, "
            """'{"currency": "eur"}')""",
            "INSERT INTO delivery_outcomes (id, delivery_id, event_id, attempt, outcome, "
            "created_at) VALUES (1, 1, 1, 1, 'not_found', :now)",
        ]
        for statement in statements:
            db.session.execute(text(statement), {"now": "2026-01-01 00:00:00", "yes": True,
                                                 "no": False})
        db.session.commit()
        upgrade()
        purchase = db.session.execute(text(
            "SELECT status, charged_amount, charged_currency, payments FROM ticket_purchases"
        )).one()
        assert tuple(purchase) == ("refunded", 3000, "EUR", 0)
        assert db.session.execute(text("SELECT on_payment_failed, on_cancel FROM tickets")
                                  ).one() == ("keep", "keep")
        assert db.session.scalar(text("SELECT outcome FROM delivery_outcomes")) == (
            "waiting_for_order")
        db.session.remove()


def test_the_log_migration_carries_what_each_delivery_did_over(make_app, blank_database_url):
    """Deliveries recorded before the log filtered on outcomes are filtered right after it."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    app = make_app(SQLALCHEMY_DATABASE_URI=blank_database_url)
    with app.app_context():
        upgrade(revision="fc1726646077")
        statements = [
            "INSERT INTO events (id, name, currency, created_at) VALUES (1, 'S', 'USD', :now)",
            "INSERT INTO thrivecart_integrations (id, event_id, secret_digest, secret_last3, "
            "set_at) VALUES (1, 1, 'd', 'abc', :now)",
            *[f"INSERT INTO webhook_deliveries (id, received_at, source, event_type, mode, "
              f"test, thrivecart_account, status, attempts) VALUES ({number}, :then, "
              f"'webhook', 'order.success', 'live', :no, 'a', 'processed', 2)"
              for number in (1, 2, 3)],
            "INSERT INTO delivery_events (delivery_id, event_id) VALUES (1, 1), (2, 1), (3, 1)",
            # Delivery 1 was unlinked, then re-run after linking: only its latest attempt
            # counts. Delivery 2 stays unlinked. Delivery 3 was never processed.
            "INSERT INTO delivery_outcomes (delivery_id, event_id, attempt, item_key, outcome, "
            "created_at) VALUES (1, 1, 1, 'upsell-9', 'unlinked', :now), "
            "(1, 1, 2, 'upsell-9', 'paid', :now), (2, 1, 1, 'upsell-9', 'unlinked', :now)",
        ]
        for statement in statements:
            db.session.execute(text(statement), {"now": "2026-01-01 00:00:00",
                                                 "then": "2025-12-31 23:00:00", "no": False})
        db.session.commit()
        upgrade()
        rows = db.session.execute(text(
            "SELECT delivery_id, attempt, attention, received_at FROM delivery_events "
            "ORDER BY delivery_id")).all()
        assert [(row[0], row[1], bool(row[2])) for row in rows] == [
            (1, 2, False), (2, 1, True), (3, 0, False)]
        assert all(str(row[3]).startswith("2025-12-31 23:00:00") for row in rows)
        assert str(db.session.scalar(text(
            "SELECT connected_at FROM thrivecart_integrations"))).startswith("2026-01-01")
        # Grants made before access emails existed are not mailed on upgrade.
        assert db.session.execute(text(
            "SELECT count(*) FROM delivery_outcomes WHERE outcome = 'paid' "
            "AND email_queued_at IS NULL")).scalar() == 0
        db.session.remove()


def test_the_dashboard_counts_migration_counts_what_was_there(make_app, blank_database_url):
    """Attendees and paid purchases from before the counts were kept are counted on upgrade."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    app = make_app(SQLALCHEMY_DATABASE_URI=blank_database_url)
    with app.app_context():
        upgrade(revision="8c3b5e7d9a12")
        now = {"now": "2026-01-01 00:00:00", "yes": True, "no": False}
        statements = [
            "INSERT INTO events (id, name, currency, created_at) VALUES (1, 'S', 'USD', :now), "
            "(2, 'T', 'USD', :now)",
            "INSERT INTO tickets (id, event_id, name, active, on_payment_failed, on_cancel, "
            "created_at, updated_at) VALUES (1, 1, 'A', :yes, 'keep', 'keep', :now, :now), "
            "(2, 1, 'B', :yes, 'keep', 'keep', :now, :now), "
            "(3, 2, 'C', :yes, 'keep', 'keep', :now, :now)",
            "INSERT INTO attendees (id, event_id, email, first_name, last_name, created_at, "
            "updated_at) VALUES (1, 1, 'a@x.io', '', '', :now, :now), "
            "(2, 1, 'b@x.io', '', '', :now, :now), (3, 1, 'c@x.io', '', '', :now, :now), "
            "(4, 2, 'd@x.io', '', '', :now, :now)",
            *[f"INSERT INTO ticket_purchases (attendee_id, ticket_id, status, amount, currency, "
              f"source, test, payments, created_at, updated_at) VALUES ({attendee}, {ticket}, "
              f"'{status}', 100, 'USD', 'thrivecart', :{test}, 1, :now, :now)"
              for attendee, ticket, status, test in [
                  (1, 1, "paid", "yes"), (2, 1, "paid", "no"), (3, 1, "refunded", "no"),
                  (1, 2, "paid", "yes"), (4, 3, "paid", "no")]],
        ]
        for statement in statements:
            db.session.execute(text(statement), now)
        db.session.commit()
        upgrade()
        counts = db.session.execute(text(
            "SELECT t.event_id, sum(c.purchases), sum(c.paid), sum(c.paid_test) "
            "FROM ticket_purchase_counts c JOIN tickets t ON t.id = c.ticket_id "
            "GROUP BY t.event_id ORDER BY t.event_id")).all()
        assert [tuple(row) for row in counts] == [(1, 4, 3, 2), (2, 1, 1, 0)]
        attendees = db.session.execute(text(
            "SELECT event_id, sum(attendees) FROM event_attendee_counts GROUP BY event_id "
            "ORDER BY event_id")).all()
        assert [tuple(row) for row in attendees] == [(1, 3), (2, 1)]
        db.session.remove()


def test_the_accounts_migration_notes_the_accounts_each_event_has_seen(make_app,
                                                                       blank_database_url):
    """Accounts that posted before the accounts were noted concern their events on upgrade,
    each once, and a delivery without an account notes none."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    app = make_app(SQLALCHEMY_DATABASE_URI=blank_database_url)
    with app.app_context():
        upgrade(revision="5b8d2f4a7c19")
        now = {"now": "2026-01-01 00:00:00", "no": False}
        statements = [
            "INSERT INTO events (id, name, currency, created_at) VALUES (1, 'S', 'USD', :now), "
            "(2, 'T', 'USD', :now)",
            *[f"INSERT INTO webhook_deliveries (id, received_at, source, event_type, mode, test, "
              f"thrivecart_account, status, attempts) VALUES ({delivery}, :now, 'webhook', "
              f"'order.success', 'live', :no, '{account}', 'processed', 1)"
              for delivery, account in [(1, "shop-a"), (2, "shop-a"), (3, "shop-b"), (4, "")]],
            *[f"INSERT INTO delivery_events (delivery_id, event_id, received_at, attempt, "
              f"attention) VALUES ({delivery}, {event}, :now, 1, :no)"
              for delivery, event in [(1, 1), (2, 1), (3, 2), (1, 2), (4, 1)]],
        ]
        for statement in statements:
            db.session.execute(text(statement), now)
        db.session.commit()
        upgrade()
        seen = db.session.execute(text(
            "SELECT event_id, thrivecart_account FROM event_accounts "
            "ORDER BY event_id, thrivecart_account")).all()
        assert [tuple(row) for row in seen] == [(1, "shop-a"), (2, "shop-a"), (2, "shop-b")]
        db.session.remove()


def test_the_activity_kinds_migration_keeps_every_entry_and_refuses_an_unknown_kind(
        make_app, blank_database_url):
    """Entries of every kind the app wrote stay as they were; a kind the app does not know
    is refused by the database from then on, and allowed again after a downgrade."""
    import pytest
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from heysummit_tc.models import ActivityKind

    app = make_app(SQLALCHEMY_DATABASE_URI=blank_database_url)
    insert = text("INSERT INTO activity (event_id, kind, detail, created_at) "
                  "VALUES (1, :kind, '', '2026-01-01 00:00:00')")
    with app.app_context():
        upgrade(revision="d8e3a6b1c2f4")
        db.session.execute(text("INSERT INTO events (id, name, currency, created_at) "
                                "VALUES (1, 'S', 'USD', '2026-01-01 00:00:00')"))
        # The kinds the app knew then (later migrations add their own to the list).
        kinds = [kind.value for kind in ActivityKind if kind not in LATER_KINDS]
        db.session.execute(insert, [{"kind": kind} for kind in kinds])
        db.session.commit()
        upgrade(revision="e4b2c9d7a1f3")
        kept = db.session.scalars(text("SELECT kind FROM activity ORDER BY id")).all()
        assert kept == kinds
        with pytest.raises(IntegrityError):
            db.session.execute(insert, {"kind": "ticket_renamed"})
        db.session.rollback()
        downgrade(revision="d8e3a6b1c2f4")
        db.session.execute(insert, {"kind": "ticket_renamed"})
        db.session.commit()
        db.session.remove()


def test_the_external_ids_migration_keeps_each_tickets_id_and_links_several_after_it(
        make_app, blank_database_url):
    """Each ticket's External ID becomes its first of several; the database still holds a key
    to one ticket per event; a downgrade keeps each ticket's first key."""
    import pytest
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    app = make_app(SQLALCHEMY_DATABASE_URI=blank_database_url)
    with app.app_context():
        upgrade(revision="f1c3a5e7b9d2")
        db.session.execute(text(
            "INSERT INTO events (id, name, currency, created_at) VALUES "
            "(1, 'Summit', 'USD', '2026-01-01 00:00:00'), (2, 'Other', 'USD', "
            "'2026-01-01 00:00:00')"))
        db.session.execute(text(
            "INSERT INTO tickets (id, event_id, name, active, external_id, on_payment_failed, "
            "on_cancel, created_at, updated_at) VALUES "
            "(1, 1, 'Pass', true, 'product-2', 'keep', 'keep', '2026-01-01', '2026-01-01'), "
            "(2, 1, 'Replays', true, NULL, 'keep', 'keep', '2026-01-01', '2026-01-01'), "
            "(3, 2, 'Pass', true, 'product-2', 'keep', 'keep', '2026-01-01', '2026-01-01')"))
        db.session.commit()
        upgrade(revision="a9d4e2c7b316")
        links = db.session.execute(text(
            "SELECT event_id, ticket_id, key FROM ticket_external_ids ORDER BY id")).all()
        assert [tuple(row) for row in links] == [(1, 1, "product-2"), (2, 3, "product-2")]
        db.session.execute(text("INSERT INTO ticket_external_ids (event_id, ticket_id, key) "
                                "VALUES (1, 1, 'downsell-5')"))
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(text("INSERT INTO ticket_external_ids (event_id, ticket_id, key)"
                                    " VALUES (1, 2, 'downsell-5')"))
        db.session.rollback()
        downgrade(revision="f1c3a5e7b9d2")
        kept = db.session.execute(text("SELECT id, external_id FROM tickets ORDER BY id")).all()
        assert [tuple(row) for row in kept] == [(1, "product-2"), (2, None), (3, "product-2")]
        db.session.remove()


def test_the_purchase_per_order_migration_keeps_every_purchase_history_and_count(
        make_app, blank_database_url):
    """A populated database keeps every purchase, its history and the kept counts; after it
    a rebuy through another order is a purchase of its own, the same order still one; the
    downgrade refuses while a ticket is held twice."""
    import pytest
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    app = make_app(SQLALCHEMY_DATABASE_URI=blank_database_url)
    purchase = ("INSERT INTO ticket_purchases (id, attendee_id, ticket_id, status, amount, "
                "currency, source, thrivecart_order_id, test, payments, created_at, updated_at)"
                " VALUES (:id, 1, :ticket, :status, 9700, 'USD', 'thrivecart', :order, false, 0,"
                " '2026-01-01', '2026-01-01')")
    counted = text("SELECT sum(purchases) FROM ticket_purchase_counts WHERE ticket_id = 1")
    with app.app_context():
        upgrade(revision="c6f2a8d4e1b9")
        for statement in (
            "INSERT INTO events (id, name, currency, created_at) VALUES (1, 'S', 'USD', "
            "'2026-01-01')",
            "INSERT INTO tickets (id, event_id, name, active, on_payment_failed, on_cancel, "
            "created_at, updated_at) VALUES (1, 1, 'Pass', true, 'keep', 'keep', '2026-01-01', "
            "'2026-01-01'), (2, 1, 'Workbook', true, 'keep', 'keep', '2026-01-01', '2026-01-01')",
            "INSERT INTO attendees (id, event_id, email, first_name, last_name, created_at, "
            "updated_at) VALUES (1, 1, 'ada@example.com', 'Ada', '', '2026-01-01', '2026-01-01')",
        ):
            db.session.execute(text(statement))
        db.session.execute(text(purchase), [
            {"id": 1, "ticket": 1, "status": "refunded", "order": "O-1"},
            {"id": 2, "ticket": 2, "status": "paid", "order": "O-1"}])
        db.session.execute(text(
            "INSERT INTO purchase_changes (purchase_id, changed_at, from_status, to_status, "
            "reason) VALUES (1, '2026-01-02', 'paid', 'refunded', 'order.refund of order O-1')"))
        db.session.commit()
        upgrade(revision="d2e7f1a3c5b8")
        kept = db.session.execute(text(
            "SELECT id, ticket_id, status, thrivecart_order_id FROM ticket_purchases "
            "ORDER BY id")).all()
        assert [tuple(row) for row in kept] == [(1, 1, "refunded", "O-1"), (2, 2, "paid", "O-1")]
        assert db.session.scalar(text("SELECT reason FROM purchase_changes")) == \
            "order.refund of order O-1"
        assert db.session.scalar(counted) == 1
        # A rebuy through another order is its own purchase, counted by the kept triggers.
        db.session.execute(text(purchase), {"id": 3, "ticket": 1, "status": "paid",
                                            "order": "O-2"})
        db.session.commit()
        assert db.session.scalar(counted) == 2
        with pytest.raises(IntegrityError):
            db.session.execute(text(purchase), {"id": 4, "ticket": 1, "status": "paid",
                                                "order": "O-2"})
        db.session.rollback()
        with pytest.raises(SystemExit):  # Flask-Migrate logs the reason and exits
            downgrade(revision="c6f2a8d4e1b9")
        db.session.rollback()
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == \
            "d2e7f1a3c5b8"
        assert db.session.scalar(text("SELECT count(*) FROM ticket_purchases")) == 3
        db.session.execute(text("DELETE FROM ticket_purchases WHERE id = 3"))
        db.session.commit()
        downgrade(revision="c6f2a8d4e1b9")
        with pytest.raises(IntegrityError):
            db.session.execute(text(purchase), {"id": 5, "ticket": 1, "status": "paid",
                                                "order": "O-3"})
        db.session.rollback()
        db.session.remove()
