"""Task store and record store (SQLite by default), artifact files."""
