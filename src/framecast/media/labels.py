"""AIGC implicit labels: the JSON string that marks a file as AI generated, and reading it back.

The key set follows the implicit-label practice that Vidu's ``meta_data`` field
passes through (Label "1" = AI generated). It is written into the MP4 twice,
as the standard ``comment`` and as a custom ``aigc_label`` key, so both
ordinary players and tools looking for the custom key find it.
"""

from __future__ import annotations

import json
from pathlib import Path

import av

LABEL_KEY = "aigc_label"
COMMENT_KEY = "comment"


def default_label(*, task_id: str, producer: str = "framecast") -> str:
    """The label framecast writes when the client sent none: AI generated, produced by ``producer``."""
    return json.dumps(
        {
            "Label": "1",
            "ContentProducer": producer,
            "ProduceID": task_id,
            "ReservedCode1": "",
            "ContentPropagator": producer,
            "PropagateID": task_id,
            "ReservedCode2": "",
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def read_label(path: Path | str) -> str | None:
    """The label stored in a media file's container metadata, or None when it carries none."""
    with av.open(str(path)) as container:
        meta = {k.lower(): v for k, v in container.metadata.items()}
    value = meta.get(LABEL_KEY) or meta.get(COMMENT_KEY)
    return value or None
