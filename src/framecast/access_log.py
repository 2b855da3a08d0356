"""The access log, sampled: ``FRAMECAST_ACCESS_LOG_SAMPLE`` of the requests get a line.

At 0 ``serve`` tells uvicorn not to log requests at all (no record is made); between 0 and 1 a filter on
uvicorn's access logger keeps that share at random, so the log still shows the traffic's shape.
"""

from __future__ import annotations

import logging
import random

LOGGER = "uvicorn.access"


class SampledAccessLog(logging.Filter):
    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = rate

    def filter(self, record: logging.LogRecord) -> bool:
        return random.random() < self.rate


def sample_access_log(rate: float) -> None:
    """Keep ``rate`` of the access log's lines in this process (replacing an earlier call's choice)."""
    logger = logging.getLogger(LOGGER)
    for old in [f for f in logger.filters if isinstance(f, SampledAccessLog)]:
        logger.removeFilter(old)
    if rate < 1:
        logger.addFilter(SampledAccessLog(rate))
