"""Several External IDs per ticket, ignored items, items linked in another event

Revision ID: a9d4e2c7b316
Revises: f1c3a5e7b9d2
Create Date: 2026-12-07 23:30:00.000000

A ticket held one External ID, so linking an item from the inbox replaced it: the pass sold
both as a product and as a downsell lost one of them. Each key is now a row of
``ticket_external_ids``, unique within its event; every ticket's key moves there. Items the
organisers chose not to link are kept in ``ignored_items``. An item another event of the same
delivery links is recorded as ``linked_elsewhere`` in the events that do not link it.

The downgrade keeps each ticket's first key (the others are lost, as the old schema holds one)
and records ``linked_elsewhere`` outcomes as ``unlinked`` again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9d4e2c7b316'
down_revision = 'f1c3a5e7b9d2'
branch_labels = None
depends_on = None

OUTCOMES = (
    'paid', 'already_paid', 'already_payment_failed', 'already_cancelled', 'already_ended',
    'already_refunded', 'refunded', 'partial_refund', 'payment_failed', 'payment_recorded',
    'cancelled', 'waiting_for_order', 'duplicate', 'unlinked', 'ticket_inactive', 'no_items',
    'ignored', 'failed', 'email_changed', 'email_conflict', 'unknown_customer',
)
KINDS = (
    'secret_saved', 'secret_disconnected', 'ticket_created', 'ticket_changed',
    'ticket_deleted', 'event_changed', 'member_added', 'member_role_changed', 'member_removed',
    'delivery_replayed', 'held_released', 'unlinked_rerun', 'test_purchase',
    'access_email_saved', 'access_email_resent', 'buyer_erased', 'attendee_email_changed',
    'attendees_merged',
)
NEW_KINDS = ('item_ignored', 'item_restored')


def upgrade():
    op.create_table(
        'ticket_external_ids',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'],
                                name=op.f('fk_ticket_external_ids_event_id_events'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'],
                                name=op.f('fk_ticket_external_ids_ticket_id_tickets'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_external_ids')),
        sa.UniqueConstraint('event_id', 'key', name=op.f('uq_ticket_external_ids_event_id_key')),
    )
    op.create_index(op.f('ix_ticket_external_ids_ticket_id'), 'ticket_external_ids',
                    ['ticket_id'], unique=False)
    op.execute("INSERT INTO ticket_external_ids (event_id, ticket_id, key) "
               "SELECT event_id, id, external_id FROM tickets "
               "WHERE external_id IS NOT NULL ORDER BY id")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('uq_tickets_event_id_external_id'), type_='unique')
        batch_op.drop_column('external_id')

    op.create_table(
        'ignored_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id'],
                                name=op.f('fk_ignored_items_event_id_events'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_ignored_items_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ignored_items')),
        sa.UniqueConstraint('event_id', 'key', name=op.f('uq_ignored_items_event_id_key')),
    )
    op.create_index(op.f('ix_ignored_items_user_id'), 'ignored_items', ['user_id'],
                    unique=False)
    _outcomes(OUTCOMES + ('linked_elsewhere',))
    _kinds(KINDS + NEW_KINDS)


def downgrade():
    op.execute("DELETE FROM activity WHERE kind IN ('item_ignored', 'item_restored')")
    _kinds(KINDS)
    op.execute("UPDATE delivery_outcomes SET outcome = 'unlinked' "
               "WHERE outcome = 'linked_elsewhere'")
    _outcomes(OUTCOMES)
    op.drop_index(op.f('ix_ignored_items_user_id'), table_name='ignored_items')
    op.drop_table('ignored_items')
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=40), nullable=True))
    op.execute("UPDATE tickets SET external_id = (SELECT key FROM ticket_external_ids "
               "WHERE ticket_external_ids.ticket_id = tickets.id "
               "ORDER BY ticket_external_ids.id LIMIT 1)")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_unique_constraint(op.f('uq_tickets_event_id_external_id'),
                                          ['event_id', 'external_id'])
    op.drop_index(op.f('ix_ticket_external_ids_ticket_id'), table_name='ticket_external_ids')
    op.drop_table('ticket_external_ids')


def _outcomes(allowed):
    with op.batch_alter_table('delivery_outcomes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_delivery_outcomes_outcome_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_delivery_outcomes_outcome_kind'),
                                         sa.column('outcome').in_(allowed))


def _kinds(allowed):
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_activity_activity_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_activity_activity_kind'),
                                         sa.column('kind').in_(allowed))
