"""Needs attention that clears: resolved by an organiser with a note; partial refunds out

Revision ID: e9b3c7d1f5a2
Revises: d2e7f1a3c5b8
Create Date: 2026-12-08 00:10:00.000000

An organiser can mark what a delivery left needing attention resolved, with a note (who and
when are kept, and the activity log says so). A partial refund is no longer attention: the
deliveries that needed attention for nothing else stop needing it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e9b3c7d1f5a2'
down_revision = 'd2e7f1a3c5b8'
branch_labels = None
depends_on = None

KINDS = (
    'secret_saved', 'secret_disconnected', 'ticket_created', 'ticket_changed',
    'ticket_deleted', 'event_changed', 'member_added', 'member_role_changed', 'member_removed',
    'delivery_replayed', 'held_released', 'unlinked_rerun', 'test_purchase',
    'access_email_saved', 'access_email_resent', 'buyer_erased', 'attendee_email_changed',
    'attendees_merged', 'item_ignored', 'item_restored',
)
# What still needs a person after this migration (partial_refund left out).
ATTENTION = ('failed', 'unlinked', 'ticket_inactive', 'payment_failed', 'waiting_for_order',
             'no_items', 'email_conflict')


def upgrade():
    with op.batch_alter_table('delivery_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolved_at', sa.DateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('resolved_by', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('resolved_note', sa.String(length=500), nullable=True))
    _kinds(KINDS + ('attention_resolved',))
    listed = ", ".join(f"'{kind}'" for kind in ATTENTION)
    op.execute(
        "UPDATE delivery_events SET attention = false WHERE attention = true AND NOT EXISTS ("
        "SELECT 1 FROM delivery_outcomes AS o WHERE o.delivery_id = delivery_events.delivery_id"
        " AND o.event_id = delivery_events.event_id AND o.attempt = delivery_events.attempt"
        f" AND o.outcome IN ({listed}))")


def downgrade():
    op.execute("DELETE FROM activity WHERE kind = 'attention_resolved'")
    _kinds(KINDS)
    with op.batch_alter_table('delivery_events', schema=None) as batch_op:
        batch_op.drop_column('resolved_note')
        batch_op.drop_column('resolved_by')
        batch_op.drop_column('resolved_at')


def _kinds(allowed):
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_activity_activity_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_activity_activity_kind'),
                                         sa.column('kind').in_(allowed))
