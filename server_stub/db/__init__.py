"""Storage: engine, tables (the one description of the schema) and Alembic migrations."""
