"""Vidu enterprise API (``/ent/v2``): see reference/api-dialects.md section 1."""

from framecast.dialects.dialect import Dialect, fixed
from framecast.dialects.vidu import translate
from framecast.dialects.vidu.errors import vidu_error
from framecast.dialects.vidu.router import PREFIX, router

DIALECT = Dialect(
    name="vidu",
    prefixes=(PREFIX,),
    router=router,
    render_error=vidu_error,
    render_callback=fixed(translate.render_query),
    accepts_callbacks=True,
    limits=translate.LIMITS,
)

__all__ = ["DIALECT"]
