"""ImaraDesk: a WhatsApp-first AI customer-support desk."""

__version__ = "0.1.0"
