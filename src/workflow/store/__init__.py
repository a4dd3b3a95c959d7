"""The database: tables, sessions, the one write path of credential histories, migrations, backup and restore."""
