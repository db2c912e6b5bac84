"""Monthly partitions on PostgreSQL for readings, meter_reads and supply_observations (server_stub.db.partitions).

Each table is rebuilt as a table partitioned by RANGE on its time column: the rows are copied into monthly
partitions (every month holding data, the current one and MONTHS_AHEAD following) plus a default partition,
and the keys, unique constraints, foreign keys and indexes are made again under their own names. readings'
primary key becomes (id, collected_at) (a partitioned table's keys include the partition column); its id
sequence is kept. SQLite: nothing to do (plain tables; retention deletes rows).

Revision ID: 0010
Revises: 0012
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import inspect, text

from server_stub.db.engine import utcnow
from server_stub.db.partitions import MONTHS_AHEAD, PARTITIONED, create_month, month_of, next_month

revision = '0010'
down_revision = '0012'
branch_labels = None
depends_on = None


def _quoted(columns) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _rebuild(conn, table: str, column: str, partitioned: bool) -> None:
    schema = inspect(conn)
    pk = schema.get_pk_constraint(table)
    uniques = schema.get_unique_constraints(table)
    fks = schema.get_foreign_keys(table)
    indexes = [i for i in schema.get_indexes(table) if not i.get("duplicates_constraint")]
    sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar() \
        if "id" in {c["name"] for c in schema.get_columns(table)} else None
    old = f"{table}__old"
    conn.execute(text(f"ALTER TABLE {table} RENAME TO {old}"))
    strategy = f"PARTITION BY RANGE ({column})" if partitioned else ""
    conn.execute(text(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) {strategy}"))
    if partitioned:
        conn.execute(text(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT"))
        months = {month_of(utcnow())}
        for _ in range(MONTHS_AHEAD):
            months.add(next_month(max(months)))
        months |= set(conn.execute(text(
            f"SELECT DISTINCT date_trunc('month', {column} AT TIME ZONE 'UTC')::date FROM {old}")).scalars())
        for month in sorted(months):
            create_month(conn, table, month)
    conn.execute(text(f"INSERT INTO {table} SELECT * FROM {old}"))
    if sequence:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY NONE"))
    conn.execute(text(f"DROP TABLE {old}"))
    key = list(pk["constrained_columns"]) + ([column] if partitioned and column not in pk["constrained_columns"] else [])
    conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{pk["name"]}" PRIMARY KEY ({_quoted(key)})'))
    for unique in uniques:
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{unique["name"]}" UNIQUE '
                          f'({_quoted(unique["column_names"])})'))
    for fk in fks:
        ondelete = fk.get("options", {}).get("ondelete")
        conn.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{fk["name"]}" FOREIGN KEY '
                          f'({_quoted(fk["constrained_columns"])}) REFERENCES {fk["referred_table"]} '
                          f'({_quoted(fk["referred_columns"])})' + (f" ON DELETE {ondelete}" if ondelete else "")))
    for index in indexes:
        conn.execute(text(f'CREATE {"UNIQUE " if index["unique"] else ""}INDEX "{index["name"]}" ON {table} '
                          f'({_quoted(index["column_names"])})'))
    if sequence:
        conn.execute(text(f"ALTER SEQUENCE {sequence} OWNED BY {table}.id"))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table, column in PARTITIONED.items():
        _rebuild(conn, table, column, partitioned=True)


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table, column in PARTITIONED.items():
        _rebuild(conn, table, column, partitioned=False)
        if table == "readings":
            conn.execute(text('ALTER TABLE readings DROP CONSTRAINT readings_pkey, ADD PRIMARY KEY (id)'))
