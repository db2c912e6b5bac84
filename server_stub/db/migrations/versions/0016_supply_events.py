"""the supply engine's replacements and alarms kept for the console; each followed supply's policy class

Revision ID: 0016
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('supply_state') as batch_op:
        batch_op.add_column(sa.Column('supply_class', sa.String(length=16), nullable=True))
        batch_op.create_index('ix_supply_state_empty_on', ['empty_on'], unique=False)
    # the class the engine already keeps in each slot's state (the worker writes the column from now on)
    state = sa.table('supply_state', sa.column('id', sa.Integer), sa.column('state', sa.JSON),
                     sa.column('supply_class', sa.String))
    connection = op.get_bind()
    for row in connection.execute(sa.select(state.c.id, state.c.state)).all():
        klass = ((row.state or {}).get('f') or {}).get('supply_class')
        if klass:
            connection.execute(sa.update(state).where(state.c.id == row.id).values(supply_class=klass))
    op.create_table(
        'supply_replacements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('asset_id', sa.Integer(), nullable=False),
        sa.Column('supply_key', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('cause', sa.String(length=32), nullable=False),
        sa.Column('left_percent', sa.Float(), nullable=True),
        sa.Column('premature', sa.Boolean(), nullable=False),
        sa.Column('wasted_pages', sa.Integer(), nullable=True),
        sa.Column('removed_pages', sa.Integer(), nullable=True),
        sa.Column('new_percent', sa.Float(), nullable=True),
        sa.Column('new_serial', sa.String(length=200), nullable=True),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('asset_id', 'supply_key', 'at', name='uq_supply_replacement'),
    )
    op.create_table(
        'supply_alarms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('asset_id', sa.Integer(), nullable=False),
        sa.Column('supply_key', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('asset_id', 'supply_key', 'at', 'kind', name='uq_supply_alarm'),
    )


def downgrade() -> None:
    op.drop_table('supply_alarms')
    op.drop_table('supply_replacements')
    with op.batch_alter_table('supply_state') as batch_op:
        batch_op.drop_index('ix_supply_state_empty_on')
        batch_op.drop_column('supply_class')
