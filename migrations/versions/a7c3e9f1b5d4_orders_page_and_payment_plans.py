"""The orders page: orders listed newest first; a rebill's place in its payment plan

Revision ID: a7c3e9f1b5d4
Revises: f4a8c2e6b0d3
Create Date: 2026-12-08 00:45:00.000000

Rebills kept before this have no plan position (ThriveCart sent it; it was not kept): their
order pages say only that a payment was made.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e9f1b5d4'
down_revision = 'f4a8c2e6b0d3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lifecycle_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_number', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('remaining_payments', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('next_payment_at', sa.DateTime(timezone=True),
                                      nullable=True))
    op.create_index('ix_thrivecart_orders_event_id_first_seen_at', 'thrivecart_orders',
                    ['event_id', 'first_seen_at', 'order_id'], unique=False)


def downgrade():
    op.drop_index('ix_thrivecart_orders_event_id_first_seen_at', table_name='thrivecart_orders')
    with op.batch_alter_table('lifecycle_events', schema=None) as batch_op:
        batch_op.drop_column('next_payment_at')
        batch_op.drop_column('remaining_payments')
        batch_op.drop_column('payment_number')
