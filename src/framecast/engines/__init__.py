"""Engines turn a GenerationJob into frames. ``registry`` maps catalog engine names to implementations."""
