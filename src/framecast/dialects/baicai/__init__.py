"""Baicai infer (``/v1/videos/generations``, ``/v1/resources``, ``/v1/comfyui``): reference section 5."""

from framecast.dialects.baicai import translate
from framecast.dialects.baicai.errors import baicai_error
from framecast.dialects.baicai.router import PREFIXES, router
from framecast.dialects.dialect import Dialect, fixed

DIALECT = Dialect(
    name="baicai",
    prefixes=PREFIXES,
    router=router,
    render_error=baicai_error,
    # Baicai documents no callback body: the status answer, with the result URLs once there are any
    render_callback=fixed(translate.render_callback),
    accepts_callbacks=False,
    limits=translate.LIMITS,
)

__all__ = ["DIALECT"]
