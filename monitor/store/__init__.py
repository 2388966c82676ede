"""Everything the monitor keeps: one SQLite file (plain SQL kept PostgreSQL-friendly)."""
