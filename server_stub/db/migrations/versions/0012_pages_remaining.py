"""supply observations keep the printer's remaining-pages estimate (reading supplies[].pages_remaining)

Revision ID: 0012
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supply_observations') as batch_op:
        batch_op.add_column(sa.Column('pages_remaining', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('supply_observations') as batch_op:
        batch_op.drop_column('pages_remaining')
