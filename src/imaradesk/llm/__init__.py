"""Optional external language models, reached only through the AI gateway."""
