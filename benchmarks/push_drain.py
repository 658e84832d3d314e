"""Benchmark: how fast `SqsEventSource` drains a burst of HealthOmics events.

Against moto's standalone server (started here with this interpreter, on a free port): for
each number of receives in flight, a fresh queue and rule are made with `setup_events`,
EVENTS events are put with EventBridge PutEvents (routed by the rule to the queue), and the
time from the first `receive()` to the last hint is measured. moto's ReceiveMessage costs
more the more messages the queue holds, so this is a worst case for a consumer that fell
behind; on AWS a receive costs about the same whatever the queue's depth.

Run (about a minute)::

    .venv/bin/python benchmarks/push_drain.py
    .venv/bin/python benchmarks/push_drain.py --events 500 --in-flight 1 2 4 8 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from _common import moto_server
from aiobotocore.session import get_session

from omics_waiter._events_setup import setup_events, teardown_events
from omics_waiter._push import SqsEventSource

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


async def put_burst(endpoint: str, count: int) -> float:
    entries = [
        {
            "Source": "aws.omics",
            "DetailType": "Run Status Change",
            "Detail": json.dumps({"runId": str(1_000_000 + n), "status": "RUNNING"}),
        }
        for n in range(count)
    ]
    started = time.perf_counter()
    async with get_session().create_client(
        "events", region_name=REGION, endpoint_url=endpoint, **CREDENTIALS
    ) as events:
        for start in range(0, count, 10):
            await events.put_events(Entries=entries[start : start + 10])
    return time.perf_counter() - started


async def drain(
    endpoint: str, count: int, in_flight: int, *, live: bool
) -> tuple[float, float, int]:
    """(seconds to put, seconds to drain, receive() calls).

    Burst: put everything, then drain; drain time runs from the first receive to the last
    hint. Live: receive while the events are put; drain time runs from the last put to the
    last hint (the lag of a consumer that keeps up).
    """
    name = f"bench-{uuid.uuid4().hex[:10]}"
    url = await setup_events(name, region_name=REGION, endpoint_url=endpoint, **CREDENTIALS)
    try:
        async with SqsEventSource(
            url, region_name=REGION, receives_in_flight=in_flight, wait_seconds=1, **CREDENTIALS
        ) as source:
            seen: set[str] = set()
            receives = 0

            async def consume() -> None:
                nonlocal receives
                while len(seen) < count:
                    hints = await source.receive()
                    receives += 1
                    seen.update(h.ids[0] for h in hints)

            if live:
                consumer = asyncio.ensure_future(consume())
                put_seconds = await put_burst(endpoint, count)
                started = time.perf_counter()
                await consumer
            else:
                put_seconds = await put_burst(endpoint, count)
                started = time.perf_counter()
                await consume()
            return put_seconds, time.perf_counter() - started, receives
    finally:
        await teardown_events(name, region_name=REGION, endpoint_url=endpoint, **CREDENTIALS)


async def main(args: argparse.Namespace) -> None:
    with moto_server() as endpoint:
        print(f"{args.events} events, moto server {endpoint}, best of {args.repeat}")
        print(f"{'mode':>5}  {'in flight':>9}  {'drain s':>8}  {'median s':>8}  {'calls':>5}")
        for live in (False, True):
            for in_flight in args.in_flight:
                runs = [
                    await drain(endpoint, args.events, in_flight, live=live)
                    for _ in range(args.repeat)
                ]
                drains = [d for _, d, _ in runs]
                print(
                    f"{'live' if live else 'burst':>5}  {in_flight:>9}  {min(drains):8.2f}  "
                    f"{statistics.median(drains):8.2f}  {runs[0][2]:>5}"
                )
        print(f"(putting {args.events} events took {runs[0][0]:.2f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
