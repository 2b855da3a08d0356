"""One package per wire format: models, parse/render, error envelope and a thin router."""
