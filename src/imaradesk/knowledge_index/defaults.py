"""Defaults that settings read, kept free of imports so reading settings loads nothing else."""

# The embedding model a new installation uses.
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
