"""Invites in the outbox: a new member's set-password email is sent like every other email

Revision ID: f1c3a5e7b9d2
Revises: e4b2c9d7a1f3
Create Date: 2026-12-07 16:30:00.000000

The outbox's rows may now go to a user (``user_id``) instead of an attendee, of the new kind
``invite``.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1c3a5e7b9d2'
down_revision = 'e4b2c9d7a1f3'
branch_labels = None
depends_on = None

KINDS = ('access', 'resend', 'fresh_link')


def upgrade():
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_outbox_emails_user_id_users'), 'users',
                                    ['user_id'], ['id'], ondelete='CASCADE')
        batch_op.alter_column('attendee_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint(batch_op.f('ck_outbox_emails_email_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_outbox_emails_email_kind'),
                                         sa.column('kind').in_(KINDS + ('invite',)))


def downgrade():
    op.get_bind().execute(sa.text("DELETE FROM outbox_emails WHERE kind = 'invite'"))
    with op.batch_alter_table('outbox_emails', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_emails_email_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_outbox_emails_email_kind'),
                                         sa.column('kind').in_(KINDS))
        batch_op.alter_column('attendee_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('fk_outbox_emails_user_id_users'),
                                 type_='foreignkey')
        batch_op.drop_column('user_id')
