"""Baicai infer (``/v1/videos/generations``, ``/v1/resources``, ``/v1/comfyui``): reference section 5."""

from framecast.dialects.baicai import translate
from framecast.dialects.baicai.errors import baicai_error
from framecast.dialects.baicai.router import PREFIXES, router
from framecast.dialects.dialect import Dialect, fixed

# Baicai documents no callback URL nor body: a callback sends the status answer, with the result URLs
DIALECT = Dialect(
    "baicai",
    router,
    baicai_error,
    fixed(translate.render_callback),
    limits=translate.LIMITS,
    prefixes=PREFIXES,
    accepts_callbacks=False,
)

__all__ = ["DIALECT"]
