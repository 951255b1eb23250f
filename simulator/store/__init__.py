"""SQLite persistence (WAL mode) behind one grouped-write API."""
from .sqlite import Store

__all__ = ["Store"]
