"""The knowledge base: parsing files into entries, indexing them, and finding answers."""
