"""Vidu enterprise API (``/ent/v2``): see reference/api-dialects.md section 1."""

from framecast.dialects.dialect import Dialect, fixed
from framecast.dialects.vidu import translate
from framecast.dialects.vidu.errors import vidu_error
from framecast.dialects.vidu.router import router

DIALECT = Dialect("vidu", router, vidu_error, fixed(translate.render_query), limits=translate.LIMITS)

__all__ = ["DIALECT"]
