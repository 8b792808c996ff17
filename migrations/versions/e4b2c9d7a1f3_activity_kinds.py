"""Activity kinds: the log's kinds held to a known list by a CHECK constraint

Revision ID: e4b2c9d7a1f3
Revises: d8e3a6b1c2f4
Create Date: 2026-12-07 16:10:00.000000

The activity log's ``kind`` was text any caller could write; the app checked it. The database
now holds it to the kinds the app knows (``models.ActivityKind``), as it does the outcome
kinds and the statuses. A row of a kind no version of the app wrote (none should exist) would
make the upgrade fail rather than be rewritten.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e4b2c9d7a1f3'
down_revision = 'd8e3a6b1c2f4'
branch_labels = None
depends_on = None

KINDS = (
    'secret_saved', 'secret_disconnected', 'ticket_created', 'ticket_changed',
    'ticket_deleted', 'event_changed', 'member_added', 'member_role_changed', 'member_removed',
    'delivery_replayed', 'held_released', 'unlinked_rerun', 'test_purchase',
    'access_email_saved', 'access_email_resent', 'buyer_erased', 'attendee_email_changed',
    'attendees_merged',
)


def upgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_activity_activity_kind'),
                                         sa.column('kind').in_(KINDS))


def downgrade():
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_activity_activity_kind'), type_='check')
