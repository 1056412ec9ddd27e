"""The ``imaradesk`` command: one module per area, all registered on ``main``."""

from imaradesk.cli import (  # noqa: F401
    api_tokens,
    desk,
    knowledge,
    operations,
    organizations,
    privacy,
    rasa,
)
from imaradesk.cli.base import _Context, main

__all__ = ["_Context", "main"]
