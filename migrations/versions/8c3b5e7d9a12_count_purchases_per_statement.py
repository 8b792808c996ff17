"""Count a statement's inserted and deleted purchases once per statement on PostgreSQL

Revision ID: 8c3b5e7d9a12
Revises: 2d4c1e9f7a60
Create Date: 2026-12-01 18:40:00.000000

The row-level trigger updated a ticket's count row once per purchase. Within one transaction
every update of a row leaves a version the next one has to step over, so inserting or
deleting N purchases of one ticket at once (an import, an event deleted with its buyers) took
time quadratic in N. Statement-level triggers read the statement's rows as a transition table
and update each (ticket, shard) once. Moving a purchase to another ticket or attendee stays
row-level: it is rare, and PostgreSQL allows no column list on a trigger with transition
tables. SQLite updates rows in place and keeps its row-level triggers.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '8c3b5e7d9a12'
down_revision = '2d4c1e9f7a60'
branch_labels = None
depends_on = None

SHARDS = 16

UPGRADE = [
    "DROP TRIGGER ticket_purchases_counted ON ticket_purchases",
    f"""
    CREATE FUNCTION count_inserted_purchases() RETURNS trigger AS $$
    BEGIN
        INSERT INTO ticket_purchase_counts (ticket_id, shard, purchases)
        SELECT ticket_id, attendee_id % {SHARDS}, count(*) FROM inserted_purchases
        GROUP BY 1, 2
        ON CONFLICT (ticket_id, shard)
        DO UPDATE SET purchases = ticket_purchase_counts.purchases + excluded.purchases;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    f"""
    CREATE FUNCTION count_deleted_purchases() RETURNS trigger AS $$
    BEGIN
        UPDATE ticket_purchase_counts AS counts SET purchases = counts.purchases - gone.n
        FROM (SELECT ticket_id, attendee_id % {SHARDS} AS shard, count(*) AS n
              FROM deleted_purchases GROUP BY 1, 2) AS gone
        WHERE counts.ticket_id = gone.ticket_id AND counts.shard = gone.shard;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER ticket_purchases_counted_insert AFTER INSERT ON ticket_purchases
    REFERENCING NEW TABLE AS inserted_purchases
    FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_purchases()
    """,
    """
    CREATE TRIGGER ticket_purchases_counted_delete AFTER DELETE ON ticket_purchases
    REFERENCING OLD TABLE AS deleted_purchases
    FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_purchases()
    """,
    """
    CREATE TRIGGER ticket_purchases_counted_update
    AFTER UPDATE OF ticket_id, attendee_id ON ticket_purchases
    FOR EACH ROW EXECUTE FUNCTION count_ticket_purchases()
    """,
]

DOWNGRADE = [
    "DROP TRIGGER ticket_purchases_counted_update ON ticket_purchases",
    "DROP TRIGGER ticket_purchases_counted_delete ON ticket_purchases",
    "DROP TRIGGER ticket_purchases_counted_insert ON ticket_purchases",
    "DROP FUNCTION count_deleted_purchases()",
    "DROP FUNCTION count_inserted_purchases()",
    """
    CREATE TRIGGER ticket_purchases_counted
    AFTER INSERT OR DELETE OR UPDATE OF ticket_id, attendee_id ON ticket_purchases
    FOR EACH ROW EXECUTE FUNCTION count_ticket_purchases()
    """,
]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in UPGRADE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in DOWNGRADE:
            op.execute(statement)
