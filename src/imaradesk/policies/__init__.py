"""Small rules without I/O: consent, retention, handoff."""
