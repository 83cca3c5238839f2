"""Storage of the incident side: SQL tables, migrations, the store and its unit of work."""
