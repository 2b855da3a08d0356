"""Job runners: who claims queued tasks and runs them (in-process now, Celery in distributed mode)."""
