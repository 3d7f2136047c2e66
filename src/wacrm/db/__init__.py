"""Database access: connection pool, embedded server, migrations."""
