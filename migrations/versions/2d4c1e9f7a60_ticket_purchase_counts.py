"""Each ticket's purchase count, kept by triggers in shards; unapplied outcomes indexed

Revision ID: 2d4c1e9f7a60
Revises: f56298891a83
Create Date: 2026-12-01 16:10:00.000000

The tickets page showed each ticket's purchases by counting them: one pass over 200,000 rows
for a ticket that sold 200,000. Triggers on ticket_purchases now keep the count as purchases
are inserted, deleted (cascades included) or moved to another ticket, in 16 shards per ticket
(by attendee) so that concurrent deliveries of one ticket rarely update the same row.

The page's inbox of unlinked items read every outcome of the event to find the few left
unapplied; a partial index holds just those.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2d4c1e9f7a60'
down_revision = 'f56298891a83'
branch_labels = None
depends_on = None

SHARDS = 16

POSTGRESQL = [
    f"""
    CREATE FUNCTION count_ticket_purchases() RETURNS trigger AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE ticket_purchase_counts SET purchases = purchases - 1
            WHERE ticket_id = OLD.ticket_id AND shard = OLD.attendee_id % {SHARDS};
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO ticket_purchase_counts (ticket_id, shard, purchases)
            VALUES (NEW.ticket_id, NEW.attendee_id % {SHARDS}, 1)
            ON CONFLICT (ticket_id, shard)
            DO UPDATE SET purchases = ticket_purchase_counts.purchases + 1;
        END IF;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER ticket_purchases_counted
    AFTER INSERT OR DELETE OR UPDATE OF ticket_id, attendee_id ON ticket_purchases
    FOR EACH ROW EXECUTE FUNCTION count_ticket_purchases()
    """,
]

_ADD = f"""
    INSERT INTO ticket_purchase_counts (ticket_id, shard, purchases)
    VALUES (NEW.ticket_id, NEW.attendee_id % {SHARDS}, 1)
    ON CONFLICT (ticket_id, shard) DO UPDATE SET purchases = purchases + 1;
"""
_REMOVE = f"""
    UPDATE ticket_purchase_counts SET purchases = purchases - 1
    WHERE ticket_id = OLD.ticket_id AND shard = OLD.attendee_id % {SHARDS};
"""
SQLITE = [
    f"CREATE TRIGGER ticket_purchases_counted_insert AFTER INSERT ON ticket_purchases "
    f"BEGIN {_ADD} END",
    f"CREATE TRIGGER ticket_purchases_counted_delete AFTER DELETE ON ticket_purchases "
    f"BEGIN {_REMOVE} END",
    f"CREATE TRIGGER ticket_purchases_counted_update AFTER UPDATE OF ticket_id, attendee_id "
    f"ON ticket_purchases BEGIN {_REMOVE} {_ADD} END",
]


def upgrade():
    op.create_table('ticket_purchase_counts',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('shard', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('purchases', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_ticket_purchase_counts_ticket_id_tickets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('ticket_id', 'shard', name=op.f('pk_ticket_purchase_counts'))
    )
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)
    op.create_index('ix_delivery_outcomes_unapplied', 'delivery_outcomes',
                    ['event_id', 'item_key'], unique=False,
                    postgresql_where=sa.text("outcome IN ('unlinked', 'ticket_inactive')"),
                    sqlite_where=sa.text("outcome IN ('unlinked', 'ticket_inactive')"))
    op.execute(
        f"INSERT INTO ticket_purchase_counts (ticket_id, shard, purchases) "
        f"SELECT ticket_id, attendee_id % {SHARDS}, count(*) FROM ticket_purchases "
        f"GROUP BY ticket_id, attendee_id % {SHARDS}"
    )


def downgrade():
    op.drop_index('ix_delivery_outcomes_unapplied', table_name='delivery_outcomes')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ticket_purchases_counted ON ticket_purchases")
        op.execute("DROP FUNCTION count_ticket_purchases()")
    else:
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER ticket_purchases_counted_{name}")
    op.drop_table('ticket_purchase_counts')
