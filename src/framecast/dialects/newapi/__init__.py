"""new-api / UniAll gateway video routes (``/v1/video/generations``): reference/api-dialects.md section 3."""

from framecast.dialects.newapi.router import attach

# the name tasks created here carry (Task.dialect), and whether create bodies take a callback URL
NAME = "newapi"
ACCEPTS_CALLBACKS = True

__all__ = ["ACCEPTS_CALLBACKS", "NAME", "attach"]
