"""new-api / UniAll gateway video routes (``/v1/video/generations``): reference/api-dialects.md section 3."""

from framecast.dialects.dialect import Dialect, fixed
from framecast.dialects.newapi import translate
from framecast.dialects.newapi.errors import newapi_error
from framecast.dialects.newapi.router import router

# metadata.callback_url: new-api's own task body (the query answer), never another dialect's
DIALECT = Dialect("newapi", router, newapi_error, fixed(translate.render_query), limits=translate.LIMITS)

__all__ = ["DIALECT"]
