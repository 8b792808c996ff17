"""Attendee search served by trigram indexes; ThriveCart order ids indexed

Revision ID: c5e1f7a3b920
Revises: a4b374322593
Create Date: 2026-12-07 05:00:00.000000

The attendee search was ``email LIKE '%q%'`` within the event: no index serves a leading
wildcard, so every search read the event's whole table (1.5 s at a million attendees). The
search now covers the email and the names, and is served by trigrams on both databases:

- PostgreSQL: a GIN index of ``pg_trgm`` over the lower-cased search text (the extension is
  part of PostgreSQL, and trusted: the database's owner may create it).
- SQLite: an FTS5 table with the trigram tokenizer, one row per attendee (rowid = id), kept
  by triggers. A batch migration that rebuilds ``attendees`` later drops these triggers with
  the old table: such a migration must create them again (``SQLITE_TRIGGERS`` below).

ThriveCart order ids get a b-tree index of their own, for the exact lookup.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c5e1f7a3b920'
down_revision = 'a4b374322593'
branch_labels = None
depends_on = None

# What the search reads: one line per attendee, as heysummit_tc.services.search builds it.
SEARCH_TEXT = "lower(email || ' ' || first_name || ' ' || last_name)"
SQLITE_TEXT = "{row}.email || ' ' || {row}.first_name || ' ' || {row}.last_name"
SQLITE_TRIGGERS = [
    "CREATE TRIGGER attendees_search_insert AFTER INSERT ON attendees BEGIN "
    "INSERT INTO attendee_search (rowid, search) VALUES (NEW.id, "
    + SQLITE_TEXT.format(row="NEW") + "); END",
    "CREATE TRIGGER attendees_search_update AFTER UPDATE OF email, first_name, last_name "
    "ON attendees BEGIN "
    "UPDATE attendee_search SET search = " + SQLITE_TEXT.format(row="NEW")
    + " WHERE rowid = NEW.id; END",
    "CREATE TRIGGER attendees_search_delete AFTER DELETE ON attendees BEGIN "
    "DELETE FROM attendee_search WHERE rowid = OLD.id; END",
]


def upgrade():
    op.create_index("ix_ticket_purchases_thrivecart_order_id", "ticket_purchases",
                    ["thrivecart_order_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(f"CREATE INDEX ix_attendees_search ON attendees USING gin "
                   f"(({SEARCH_TEXT}) gin_trgm_ops)")
    else:
        op.execute("CREATE VIRTUAL TABLE attendee_search USING fts5(search, "
                   "tokenize='trigram')")
        op.execute("INSERT INTO attendee_search (rowid, search) SELECT id, "
                   + SQLITE_TEXT.format(row="attendees") + " FROM attendees")
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_attendees_search")
    else:
        for name in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER attendees_search_{name}")
        op.execute("DROP TABLE attendee_search")
    op.drop_index("ix_ticket_purchases_thrivecart_order_id", "ticket_purchases")
