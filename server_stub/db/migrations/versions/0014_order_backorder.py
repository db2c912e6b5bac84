"""supply orders can be back-ordered: when, until when the goods are expected, the supplier's note

Revision ID: 0014
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supply_orders') as batch_op:
        batch_op.add_column(sa.Column('backordered_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('backordered_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('backorder_note', sa.String(length=2000), nullable=True))


def downgrade() -> None:
    # not a batch (table copy) on SQLite: dropping supply_orders there would cascade to its lines and links
    for column in ('backorder_note', 'backordered_until', 'backordered_at'):
        op.execute(f"ALTER TABLE supply_orders DROP COLUMN {column}")
