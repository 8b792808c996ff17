"""The ThriveCart accounts each event has seen, noted by a trigger

Revision ID: 7d2e9a4c1f58
Revises: 5b8d2f4a7c19
Create Date: 2026-12-02 12:40:00.000000

A post rejected for its secret concerns the events that have seen the ThriveCart account it
names. That set was read from the event's latest 1,000 deliveries on every view that counts
or lists rejected posts (3.4 ms each, three times on the ThriveCart page). A trigger on
``delivery_events`` now notes each event's accounts as deliveries reach it, and the views
read those few rows. Every account already seen is noted on upgrade.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7d2e9a4c1f58'
down_revision = '5b8d2f4a7c19'
branch_labels = None
depends_on = None

POSTGRESQL = [
    # Once per statement: the recording statement inserts a delivery's events together.
    """
    CREATE OR REPLACE FUNCTION note_event_accounts() RETURNS trigger AS $$
    BEGIN
        INSERT INTO event_accounts (event_id, thrivecart_account)
        SELECT DISTINCT addressed.event_id, delivery.thrivecart_account
        FROM addressed_events AS addressed
        JOIN webhook_deliveries AS delivery ON delivery.id = addressed.delivery_id
        WHERE delivery.thrivecart_account <> ''
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER delivery_events_note_accounts AFTER INSERT ON delivery_events "
    "REFERENCING NEW TABLE AS addressed_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION note_event_accounts()",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER delivery_events_note_accounts ON delivery_events",
    "DROP FUNCTION note_event_accounts()",
]
SQLITE = [
    "CREATE TRIGGER delivery_events_note_accounts AFTER INSERT ON delivery_events BEGIN "
    "INSERT OR IGNORE INTO event_accounts (event_id, thrivecart_account) "
    "SELECT NEW.event_id, thrivecart_account FROM webhook_deliveries "
    "WHERE id = NEW.delivery_id AND thrivecart_account <> ''; END",
]
SQLITE_DOWN = ["DROP TRIGGER delivery_events_note_accounts"]


def upgrade():
    op.create_table('event_accounts',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('thrivecart_account', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_accounts_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'thrivecart_account', name=op.f('pk_event_accounts'))
    )
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL if dialect == "postgresql" else SQLITE:
        op.execute(statement)
    op.execute(
        "INSERT INTO event_accounts (event_id, thrivecart_account) "
        "SELECT DISTINCT addressed.event_id, delivery.thrivecart_account "
        "FROM delivery_events AS addressed "
        "JOIN webhook_deliveries AS delivery ON delivery.id = addressed.delivery_id "
        "WHERE delivery.thrivecart_account <> ''"
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL_DOWN if dialect == "postgresql" else SQLITE_DOWN:
        op.execute(statement)
    op.drop_table('event_accounts')
