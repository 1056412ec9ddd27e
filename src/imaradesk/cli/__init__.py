"""The ``imaradesk`` command: one module per area, all registered on ``main``."""

from imaradesk.cli import desk, knowledge, operations, organizations, privacy, rasa  # noqa: F401
from imaradesk.cli.base import _Context, main

__all__ = ["_Context", "main"]
