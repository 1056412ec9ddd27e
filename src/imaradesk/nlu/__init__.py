"""Intent recognition by an NLU service the organization already runs (a Rasa server)."""

from imaradesk.nlu.base import NLUBackend, NLUError, NLUReplyInvalid, NLUResult, NLUUnavailable

__all__ = ["NLUBackend", "NLUError", "NLUReplyInvalid", "NLUResult", "NLUUnavailable"]
