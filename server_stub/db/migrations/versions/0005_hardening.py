"""hardening: shared rate-limit windows, the configuration an agent refused

Revision ID: 0005
Revises: 0004

Credentials stored in clear before this revision are sealed by `fleetmeter-server init`
(server_stub.fleet.remote_config.seal_stored), which holds the key this migration cannot see.
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_limits',
    sa.Column('bucket', sa.String(length=120), nullable=False),
    sa.Column('window', sa.BigInteger(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('bucket')
    )
    with op.batch_alter_table('agents') as batch:
        batch.add_column(sa.Column('config_refused', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('agents') as batch:
        batch.drop_column('config_refused')
    op.drop_table('rate_limits')
