"""Qianfan's create body: ``{model, type, model_parameters}``.

Docs: cloud.baidu.com/doc/qianfan-api (s/Qmqgmq7er start-end2video; the KO1
omni-video page in reference/seed-pages). ``model_parameters`` is kept raw: its
shape depends on the model family and is validated by that family's parser.
"""

from __future__ import annotations

from typing import Any

from framecast.dialects._base import WireModel


class QianfanCreate(WireModel):
    model: str | None = None
    type: str | None = None
    model_parameters: dict[str, Any] | None = None
