"""Data-protection work: privacy requests, subject exports, erasure, legal holds, retention."""
