"""Persistence: SQLModel tables and repositories, Redis-or-in-process state and locks."""
