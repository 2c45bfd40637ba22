"""Durable state in SQLite (WAL): queue, enrollments, key inventory, events."""
