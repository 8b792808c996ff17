"""Posts refused while the held store is full, counted per minute

Revision ID: a4b374322593
Revises: 7d2e9a4c1f58
Create Date: 2026-12-07 04:29:27.256717

A full store of held deliveries used to drop the oldest posts of the busiest address, so a
sender with many addresses could evict real held orders. It now refuses new posts instead,
and these counts tell organisers how many it refused and when.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4b374322593'
down_revision = '7d2e9a4c1f58'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('held_refusals',
    sa.Column('minute', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('minute', name=op.f('pk_held_refusals'))
    )


def downgrade():
    op.drop_table('held_refusals')
