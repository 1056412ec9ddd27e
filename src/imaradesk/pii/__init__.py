"""Personal data: finding it and keeping it out of logs and AI providers."""
