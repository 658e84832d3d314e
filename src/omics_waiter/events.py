"""Push: the SQS queue and EventBridge rule that bring HealthOmics events, and their reader.

    queue_url = await setup_events("my-waiter", region_name="us-east-1")
    async with OmicsWaiter.connect(events_queue_url=queue_url) as waiter: ...
    await teardown_events("my-waiter", region_name="us-east-1")

`setup_events` makes (idempotently) a queue NAME and a rule NAME that sends every HealthOmics
event of the Region to it; `teardown_events` removes them and says what it found.
`SqsEventSource` long-polls such a queue and returns `StatusHint` values, for a service
that reads the events itself. See docs/push.md. Not imported by ``import omics_waiter``:
the waiter needs only the queue's URL. asyncio only (aiobotocore).
"""

from ._events_setup import Teardown, setup_events, teardown_events
from ._push import SqsEventSource, StatusHint

__all__ = ["SqsEventSource", "StatusHint", "Teardown", "setup_events", "teardown_events"]
