"""deliveries for per-consumable billing: when a consumable job was completed, and which request an order line
was queued as (so billing counts an order and its job once)

Revision ID: 0015
Revises: 0011

Existing rows are filled in: a job already ready to invoice or invoiced is taken as completed at its last
update; an order line's request is the reorder request whose comment names the order (what
server_stub.supply.links wrote before the link was recorded) for the same asset and supply.
"""

import re

from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0011'
branch_labels = None
depends_on = None

_ORDER = re.compile(r"supply order (\d+):")


def _pair(supply_key: str) -> tuple[int, int]:
    device, _, index = supply_key.rpartition(".")
    return int(device or 1), int(index)


def upgrade() -> None:
    with op.batch_alter_table('consumable_jobs') as batch:
        batch.add_column(sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('supply_order_requests',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('supply_key', sa.String(length=32), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['supply_orders.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['consumable_requests.id'], ondelete='CASCADE'),
    sa.UniqueConstraint('order_id', 'asset_id', 'supply_key', name='uq_supply_order_request')
    )
    with op.batch_alter_table('supply_order_requests') as batch:
        batch.create_index('ix_supply_order_requests_request_id', ['request_id'], unique=False)

    conn = op.get_bind()
    conn.execute(sa.text("UPDATE consumable_jobs SET completed_at = updated_at "
                         "WHERE status IN ('ready_to_invoice', 'invoiced')"))
    lines = {}
    for order_id, asset_id, supply_key in conn.execute(sa.text(
            "SELECT order_id, asset_id, supply_key FROM supply_order_lines")):
        try:
            lines[(order_id, asset_id, _pair(supply_key))] = supply_key
        except ValueError:
            continue
    links = []
    for request_id, asset_id, device_index, supply_index, comment in conn.execute(sa.text(
            "SELECT id, asset_id, device_index, supply_index, comment FROM consumable_requests "
            "WHERE source = 'reorder'")):
        for order_id in {int(m) for m in _ORDER.findall(comment or "")}:
            key = lines.get((order_id, asset_id, (device_index, supply_index)))
            if key is not None:
                links.append({"order_id": order_id, "asset_id": asset_id, "supply_key": key, "request_id": request_id})
    if links:
        conn.execute(sa.text("INSERT INTO supply_order_requests (order_id, asset_id, supply_key, request_id) "
                             "VALUES (:order_id, :asset_id, :supply_key, :request_id)"), links)


def downgrade() -> None:
    with op.batch_alter_table('supply_order_requests') as batch:
        batch.drop_index('ix_supply_order_requests_request_id')
    op.drop_table('supply_order_requests')
    # not a batch (table copy) on SQLite: dropping consumable_jobs there would cascade to its job lines
    op.execute("ALTER TABLE consumable_jobs DROP COLUMN completed_at")
