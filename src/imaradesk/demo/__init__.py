"""Demo data: a sample FAQ and routing for a fictional mobile-money wallet."""
