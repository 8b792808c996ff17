"""Changes made by hand, in the activity log: attendees edited, tickets granted and revoked,
test orders deleted, prices, alert settings

Revision ID: b8d4f2a6c0e7
Revises: a7c3e9f1b5d4
Create Date: 2026-12-08 01:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b8d4f2a6c0e7'
down_revision = 'a7c3e9f1b5d4'
branch_labels = None
depends_on = None

KINDS = (
    'secret_saved', 'secret_disconnected', 'ticket_created', 'ticket_changed',
    'ticket_deleted', 'event_changed', 'member_added', 'member_role_changed', 'member_removed',
    'delivery_replayed', 'held_released', 'unlinked_rerun', 'test_purchase',
    'access_email_saved', 'access_email_resent', 'buyer_erased', 'attendee_email_changed',
    'attendees_merged', 'item_ignored', 'item_restored', 'attention_resolved',
)
NEW_KINDS = ('attendee_edited', 'ticket_granted', 'ticket_revoked', 'test_orders_deleted',
             'price_added', 'price_removed', 'alerts_changed')


def upgrade():
    _kinds(KINDS + NEW_KINDS)


def downgrade():
    listed = ", ".join(f"'{kind}'" for kind in NEW_KINDS)
    op.execute(f"DELETE FROM activity WHERE kind IN ({listed})")
    _kinds(KINDS)


def _kinds(allowed):
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_activity_activity_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_activity_activity_kind'),
                                         sa.column('kind').in_(allowed))
