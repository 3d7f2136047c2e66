"""The durable job queue (pgqueuer on our PostgreSQL).

- `enqueue(conn, "name", {...})` inside the caller's transaction: the job commits with the row it serves.
- `@entrypoint("name")` registers `async def handler(payload: dict) -> None`. Handlers live in a
  feature's `tasks.py` module (`wacrm/<feature>/tasks.py`), which registers them when imported;
  `wacrm.worker` (the worker's composition root) imports those modules, this package none.
- `@periodic("name", every=timedelta(...))` registers idempotent maintenance run by every worker;
  `@on_stop("name")` clean-up run when a worker stops.
- `context.current()` gives a handler the worker's pool and settings; `current_attempt()` the
  number of earlier attempts of the running job.
- Raise `Retry(delay)` to re-run a job later; any other exception ends it (or, with
  `max_attempts`, retries it with exponential back-off first).
"""

from wacrm.jobs.queue import enqueue
from wacrm.jobs.registry import Retry, current_attempt, entrypoint, on_stop, periodic

__all__ = ["Retry", "current_attempt", "enqueue", "entrypoint", "on_stop", "periodic"]
