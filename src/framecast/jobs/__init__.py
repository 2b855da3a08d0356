"""Job runners: who claims queued tasks and runs them (embedded: a pool of worker threads, in the server's
render process by default; distributed: Celery workers)."""
