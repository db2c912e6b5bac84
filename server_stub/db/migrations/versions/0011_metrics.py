"""metrics: ingest refusals by reason, worker run time summed over runs (for /metrics across processes)

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ingest_rejections',
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('reason')
    )
    with op.batch_alter_table('worker_tasks') as batch:
        batch.add_column(sa.Column('total_duration_ms', sa.BigInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('worker_tasks') as batch:
        batch.drop_column('total_duration_ms')
    op.drop_table('ingest_rejections')
