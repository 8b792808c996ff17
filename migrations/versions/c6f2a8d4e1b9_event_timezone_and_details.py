"""Event timezone, start and joining instructions

Revision ID: c6f2a8d4e1b9
Revises: a9d4e2c7b316
Create Date: 2026-12-07 23:40:00.000000

Every event is in UTC until an organiser chooses its timezone; existing events get no start
and no joining instructions.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c6f2a8d4e1b9'
down_revision = 'a9d4e2c7b316'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), server_default='UTC',
                                      nullable=False))
        batch_op.add_column(sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('joining_instructions', sa.Text(), server_default='',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('joining_instructions')
        batch_op.drop_column('starts_at')
        batch_op.drop_column('timezone')
