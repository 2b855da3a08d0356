"""What media and engines both read: one RGB video frame.

Engines produce frames and media encodes, watermarks and previews them; both
import :data:`Frame` from here, so media never imports an engine module.
``framecast.engines.base`` re-exports it for code written against the old home.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

# one RGB frame: uint8, shape (H, W, 3)
Frame = npt.NDArray[np.uint8]

__all__ = ["Frame"]
