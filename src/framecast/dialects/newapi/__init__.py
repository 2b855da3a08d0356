"""new-api / UniAll gateway video routes (``/v1/video/generations``): reference/api-dialects.md section 3."""

from framecast.dialects.newapi.router import attach

__all__ = ["attach"]
