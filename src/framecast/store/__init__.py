"""SQL storage: table models, the database handle and keyword-only query functions."""
