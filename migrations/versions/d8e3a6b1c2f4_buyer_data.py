"""Buyer data: attribution on purchases, ThriveCart's customer id, erasure, email changes

Revision ID: d8e3a6b1c2f4
Revises: c5e1f7a3b920
Create Date: 2026-12-07 15:00:00.000000

Purchases keep the affiliate, coupon, UTM values and country an order came with; attendees
keep ThriveCart's customer id (an email change names the buyer by it) and when their personal
data was erased. Three outcomes of a customer_updated delivery join the outcome kinds.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd8e3a6b1c2f4'
down_revision = 'c5e1f7a3b920'
branch_labels = None
depends_on = None

OUTCOMES = (
    'paid', 'already_paid', 'already_payment_failed', 'already_cancelled', 'already_ended',
    'already_refunded', 'refunded', 'partial_refund', 'payment_failed', 'payment_recorded',
    'cancelled', 'waiting_for_order', 'duplicate', 'unlinked', 'ticket_inactive', 'no_items',
    'ignored', 'failed',
)
EMAIL_OUTCOMES = ('email_changed', 'email_conflict', 'unknown_customer')
ATTRIBUTION = ('country', 'affiliate', 'coupon', 'utm_source', 'utm_medium', 'utm_campaign')


def upgrade():
    with op.batch_alter_table('attendees', schema=None) as batch_op:
        batch_op.add_column(sa.Column('thrivecart_customer_id', sa.String(length=40),
                                      nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_attendees_event_id_customer',
                              ['event_id', 'thrivecart_customer_id'], unique=False)
    with op.batch_alter_table('ticket_purchases', schema=None) as batch_op:
        for name in ATTRIBUTION:
            batch_op.add_column(sa.Column(name, sa.String(length=200), nullable=True))
    _outcomes(OUTCOMES + EMAIL_OUTCOMES)


def downgrade():
    op.get_bind().execute(sa.text(
        "UPDATE delivery_outcomes SET outcome = 'ignored' "
        "WHERE outcome IN ('email_changed', 'email_conflict', 'unknown_customer')"))
    _outcomes(OUTCOMES)
    with op.batch_alter_table('ticket_purchases', schema=None) as batch_op:
        for name in reversed(ATTRIBUTION):
            batch_op.drop_column(name)
    with op.batch_alter_table('attendees', schema=None) as batch_op:
        batch_op.drop_index('ix_attendees_event_id_customer')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('thrivecart_customer_id')


def _outcomes(allowed):
    with op.batch_alter_table('delivery_outcomes', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_delivery_outcomes_outcome_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_delivery_outcomes_outcome_kind'),
                                         sa.column('outcome').in_(allowed))
