"""Column types that behave the same on SQLite and PostgreSQL (defined, frozen, in :mod:`workflow.store.frozen`)."""

from workflow.store.frozen import JSONDocument, UTCDateTime

__all__ = ["JSONDocument", "UTCDateTime"]
