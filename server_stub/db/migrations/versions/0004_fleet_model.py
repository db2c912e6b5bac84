"""fleet model: clients, sites, coordinators, assets and the history ingest derives from readings

Existing agents get a client row each (by their client name). Assets for readings stored before this
revision are derived by `fleetmeter-server init` after upgrading (server_stub.ingest.derive.backfill), not
here: the derivation is domain code that keeps changing, a migration must stay what it was.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('clients',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=32), nullable=True),
    sa.Column('tax_id', sa.String(length=64), nullable=True),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name'),
    sa.UniqueConstraint('prefix')
    )
    op.create_table('coordinators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('is_main', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id', 'name', name='uq_coordinator_name')
    )
    with op.batch_alter_table('coordinators', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coordinators_client_id'), ['client_id'], unique=False)
        batch_op.create_index('uq_coordinator_main', ['client_id'], unique=True, sqlite_where=sa.text('is_main'), postgresql_where=sa.text('is_main'))

    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('coordinator_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['coordinator_id'], ['coordinators.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id', 'name', name='uq_site_name')
    )
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sites_client_id'), ['client_id'], unique=False)

    op.create_table('assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('manufacturer', sa.String(length=200), nullable=True),
    sa.Column('model', sa.String(length=200), nullable=True),
    sa.Column('serial', sa.String(length=200), nullable=True),
    sa.Column('mac', sa.String(length=64), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_agent_id', sa.Integer(), nullable=True),
    sa.Column('last_address', sa.String(length=255), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['last_agent_id'], ['agents.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['merged_into_id'], ['assets.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.create_index('ix_assets_client_state', ['client_id', 'state'], unique=False)

    op.create_table('alert_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=255), nullable=False),
    sa.Column('severity', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opened_reading_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('cleared_reading_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.create_index('ix_alert_events_asset_open', ['asset_id', 'cleared_at'], unique=False)

    op.create_table('asset_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('asset_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_audit_asset_id'), ['asset_id'], unique=False)

    op.create_table('asset_fields',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'key')
    )
    op.create_table('asset_identities',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('identity_key', sa.String(length=300), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', 'identity_key')
    )
    with op.batch_alter_table('asset_identities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_identities_asset_id'), ['asset_id'], unique=False)

    op.create_table('asset_latest',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reading_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=255), nullable=True),
    sa.Column('readings', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('counters', sa.JSON(), nullable=False),
    sa.Column('supplies', sa.JSON(), nullable=False),
    sa.Column('alerts', sa.JSON(), nullable=False),
    sa.Column('status', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id')
    )
    op.create_table('meter_reads',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('meter', sa.String(length=64), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.Column('source_oid', sa.String(length=255), nullable=True),
    sa.Column('origin', sa.String(length=64), nullable=True),
    sa.Column('reading_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'meter', 'read_at')
    )
    op.create_table('supply_observations',
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('device_index', sa.Integer(), nullable=False),
    sa.Column('supply_index', sa.Integer(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=True),
    sa.Column('color', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=1024), nullable=True),
    sa.Column('part_number', sa.String(length=255), nullable=True),
    sa.Column('supply_serial', sa.String(length=255), nullable=True),
    sa.Column('supply_class', sa.String(length=32), nullable=True),
    sa.Column('unit', sa.String(length=64), nullable=True),
    sa.Column('level', sa.BigInteger(), nullable=True),
    sa.Column('max_capacity', sa.BigInteger(), nullable=True),
    sa.Column('percent', sa.Float(), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=True),
    sa.Column('reading_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'device_index', 'supply_index', 'observed_at')
    )
    # New columns on agents and readings. On SQLite a batch (copy-and-move) of agents would DROP the old table,
    # and ON DELETE CASCADE would take every reading with it: add the columns in place instead (SQLite accepts
    # ADD COLUMN with a REFERENCES clause when the default is NULL; SQLAlchemy does not reflect an ON DELETE
    # written that way, so these three references have none: clients, sites and assets are not deleted).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE agents ADD COLUMN client_id INTEGER "
                   "REFERENCES clients (id)")
        op.execute("ALTER TABLE agents ADD COLUMN site_id INTEGER "
                   "REFERENCES sites (id)")
        op.execute("ALTER TABLE readings ADD COLUMN asset_id INTEGER "
                   "REFERENCES assets (id)")
    else:
        op.add_column('agents', sa.Column('client_id', sa.Integer(), nullable=True))
        op.add_column('agents', sa.Column('site_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_agents_client_id', 'agents', 'clients', ['client_id'], ['id'])
        op.create_foreign_key('fk_agents_site_id', 'agents', 'sites', ['site_id'], ['id'])
        op.add_column('readings', sa.Column('asset_id', sa.Integer(), nullable=True))
        op.create_foreign_key('fk_readings_asset_id', 'readings', 'assets', ['asset_id'], ['id'])
    op.create_index('ix_agents_client_id', 'agents', ['client_id'], unique=False)

    # every existing agent's client becomes a client row
    op.execute(sa.text("INSERT INTO clients (name, created_at) SELECT DISTINCT client, CURRENT_TIMESTAMP FROM agents"))
    op.execute(sa.text("UPDATE agents SET client_id = (SELECT clients.id FROM clients WHERE clients.name = agents.client)"))



def downgrade() -> None:
    # PostgreSQL only in practice: on SQLite the batch copy of agents below drops the old table, and ON DELETE
    # CASCADE would take the readings with it (restore a backup instead of downgrading a SQLite database).
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.drop_constraint('fk_readings_asset_id', type_='foreignkey')
        batch_op.drop_column('asset_id')

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_constraint('fk_agents_site_id', type_='foreignkey')
        batch_op.drop_constraint('fk_agents_client_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_agents_client_id'))
        batch_op.drop_column('site_id')
        batch_op.drop_column('client_id')

    op.drop_table('supply_observations')
    op.drop_table('meter_reads')
    op.drop_table('asset_latest')
    with op.batch_alter_table('asset_identities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_identities_asset_id'))

    op.drop_table('asset_identities')
    op.drop_table('asset_fields')
    with op.batch_alter_table('asset_audit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_audit_asset_id'))

    op.drop_table('asset_audit')
    with op.batch_alter_table('alert_events', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_events_asset_open')

    op.drop_table('alert_events')
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.drop_index('ix_assets_client_state')

    op.drop_table('assets')
    with op.batch_alter_table('sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sites_client_id'))

    op.drop_table('sites')
    with op.batch_alter_table('coordinators', schema=None) as batch_op:
        batch_op.drop_index('uq_coordinator_main', sqlite_where=sa.text('is_main'), postgresql_where=sa.text('is_main'))
        batch_op.drop_index(batch_op.f('ix_coordinators_client_id'))

    op.drop_table('coordinators')
    op.drop_table('clients')
