"""supply observations keep the printer's remaining-pages estimate (reading supplies[].pages_remaining)

Revision ID: 0011
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0009'  # the lead re-chains it after whatever 0010 main has when merging
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supply_observations') as batch_op:
        batch_op.add_column(sa.Column('pages_remaining', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('supply_observations') as batch_op:
        batch_op.drop_column('pages_remaining')
