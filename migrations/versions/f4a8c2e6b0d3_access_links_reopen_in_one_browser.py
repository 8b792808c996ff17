"""Access links reopen in the browser that first opened them

Revision ID: f4a8c2e6b0d3
Revises: e9b3c7d1f5a2
Create Date: 2026-12-08 00:30:00.000000

The browser that opens an access link first keeps a key (a cookie); the link stores its
digest, and opens again for that browser until it expires. Links used before this have no
digest: they stay used.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f4a8c2e6b0d3'
down_revision = 'e9b3c7d1f5a2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('browser_digest', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('access_links', schema=None) as batch_op:
        batch_op.drop_column('browser_digest')
