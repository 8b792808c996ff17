"""The caps on held deliveries read partial indexes of the unreleased ones

Revision ID: 5b8d2f4a7c19
Revises: 3f9a1c6e2b47
Create Date: 2026-12-02 12:10:00.000000

Every post with a wrong Secret Word is held, and then the held posts of its secret, of its
client address and in all are trimmed to their caps, one post at a time. Each trim read every
row of the secret or the address (the dead ones too, until a vacuum) and sorted them, and
the overall count read the whole table. Partial indexes of the unreleased deliveries, by
secret and by address in id order and by id alone, serve the trims newest first and the
count from the index; the address's plain index served nothing else.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b8d2f4a7c19'
down_revision = '3f9a1c6e2b47'
branch_labels = None
depends_on = None

UNRELEASED = {"postgresql_where": sa.text("released_at IS NULL"),
              "sqlite_where": sa.text("released_at IS NULL")}


def upgrade():
    with op.batch_alter_table('held_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_held_deliveries_client_address')
        batch_op.create_index('ix_held_deliveries_unreleased_secret',
                              ['secret_digest', 'id'], unique=False, **UNRELEASED)
        batch_op.create_index('ix_held_deliveries_unreleased_client',
                              ['client_address', 'id'], unique=False, **UNRELEASED)
        batch_op.create_index('ix_held_deliveries_unreleased', ['id'], unique=False,
                              **UNRELEASED)


def downgrade():
    with op.batch_alter_table('held_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_held_deliveries_unreleased', **UNRELEASED)
        batch_op.drop_index('ix_held_deliveries_unreleased_client', **UNRELEASED)
        batch_op.drop_index('ix_held_deliveries_unreleased_secret', **UNRELEASED)
        batch_op.create_index('ix_held_deliveries_client_address', ['client_address'],
                              unique=False)
