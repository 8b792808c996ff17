"""One purchase per attendee, ticket and order

Revision ID: d2e7f1a3c5b8
Revises: c6f2a8d4e1b9
Create Date: 2026-12-07 23:55:00.000000

A purchase was unique per attendee and ticket, so a rebuy after a refund or a cancellation
rewrote the earlier purchase. It is now unique per attendee, ticket and ThriveCart order:
each order of a ticket is a purchase with its own history and money. Every purchase and its
history is kept as it is (each was one per attendee and ticket, so one per order too).

On SQLite the table is rebuilt to change its constraint, which drops its triggers (the
purchase counts): they are read before and created again after, unchanged.

The downgrade refuses while an attendee holds two purchases of one ticket: which of them to
drop is not a migration's to decide.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd2e7f1a3c5b8'
down_revision = 'c6f2a8d4e1b9'
branch_labels = None
depends_on = None

OLD = ['attendee_id', 'ticket_id']
NEW = ['attendee_id', 'ticket_id', 'thrivecart_order_id']


def upgrade():
    _unique(op.f('uq_ticket_purchases_attendee_id_ticket_id'),
            op.f('uq_ticket_purchases_attendee_id_ticket_id_thrivecart_order_id'), NEW)


def downgrade():
    twice = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM (SELECT 1 FROM ticket_purchases GROUP BY attendee_id, ticket_id "
        "HAVING count(*) > 1) AS rebought")).scalar()
    if twice:
        raise RuntimeError(f"{twice} attendee(s) hold two purchases of one ticket (rebuys): "
                           "the one-purchase-per-ticket schema cannot hold them.")
    _unique(op.f('uq_ticket_purchases_attendee_id_ticket_id_thrivecart_order_id'),
            op.f('uq_ticket_purchases_attendee_id_ticket_id'), OLD)


def _unique(drop, create, columns):
    bind = op.get_bind()
    sqlite = bind.dialect.name == 'sqlite'
    triggers = _triggers(bind) if sqlite else {}
    with op.batch_alter_table('ticket_purchases', schema=None) as batch_op:
        batch_op.drop_constraint(drop, type_='unique')
        batch_op.create_unique_constraint(create, columns)
    kept = _triggers(bind) if sqlite else {}
    for name, sql in triggers.items():
        if name not in kept:
            bind.exec_driver_sql(sql)


def _triggers(bind):
    return dict(bind.execute(sa.text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
        "AND tbl_name = 'ticket_purchases'")).all())
