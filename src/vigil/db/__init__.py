"""SQL tables, the async engine and Alembic migrations (SQLite by default, PostgreSQL at scale)."""
