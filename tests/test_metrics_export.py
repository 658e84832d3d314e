"""Exporting the waiter's metrics: a real Prometheus scrape of the SDK's Prometheus exporter,
read with prometheus-client's own parser (every metric name docs/observability.md uses must be
in it), and the global meter provider, which an application may set after the waiter is made
(a process of its own: the API lets a process set it only once).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import pytest_asyncio
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from omics_waiter import OmicsWaiter, ReadSetActivationJobRef
from omics_waiter._events_setup import setup_events, teardown_events
from omics_waiter.testing import Faults, OmicsEmulator, Step

DOC = Path(__file__).resolve().parents[1] / "docs" / "observability.md"
STORE = "1234567890"
R1 = "1111111111"
GET = "GetReadSetActivationJob"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest_asyncio.fixture
async def queue_url(moto_server: str) -> AsyncIterator[str]:
    name = f"scrape-{uuid.uuid4().hex[:8]}"
    options: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": moto_server}
    url = await setup_events(name, **options, **CREDENTIALS)
    yield url
    await teardown_events(name, **options, **CREDENTIALS)


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.asyncio
async def test_a_prometheus_scrape_has_every_name_the_docs_use(
    moto_server: str, queue_url: str
) -> None:
    registry = CollectorRegistry()
    provider = MeterProvider(
        metric_readers=[PrometheusMetricReader(registry=registry)], shutdown_on_exit=False
    )
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        async with (
            OmicsEmulator(
                seed=2,
                events_endpoint_url=moto_server,
                faults=Faults(throttle_rate=0.3, operations=frozenset({GET})),
            ) as emu,
            OmicsWaiter.connect(
                endpoint_url=emu.endpoint_url,
                region_name="us-east-1",
                events_queue_url=queue_url,
                sqs_endpoint_url=moto_server,
                meter_provider=provider,
                min_delay=0.1,
                max_delay=0.3,
                **CREDENTIALS,
            ) as waiter,
        ):
            steps = [Step(0.05, "IN_PROGRESS"), Step(0.6, "COMPLETED")]
            refs = [
                ReadSetActivationJobRef(STORE, emu.add_job(STORE, [R1], timeline=steps))
                for _ in range(4)
            ]
            with anyio.fail_after(20):
                await waiter.wait_many(refs)
            samples = await anyio.to_thread.run_sync(scrape, server.server_port)
            ok, throttled = emu.stats.count(GET, 200), emu.stats.count(GET, 429)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        provider.shutdown()
    names = {name for name, _ in samples}
    documented = set(re.findall(r"\bomics_waiter_[a-z_]+[a-z]", DOC.read_text()))
    assert documented, "no metric names in the docs"
    assert documented <= names, sorted(documented - names)

    def value(name: str, **labels: str) -> float:
        return sum(
            v
            for (n, attrs), v in samples.items()
            if n == name and set(labels.items()) <= set(attrs)
        )

    assert value("omics_waiter_requests_total", operation=GET, outcome="ok") == ok
    assert value("omics_waiter_requests_total", operation=GET, outcome="throttled") == throttled
    assert value("omics_waiter_waits_total", kind="activation", outcome="success") == len(refs)


# -- the global meter provider, in a process of its own ----------------------------------------

GLOBAL_SCRIPT = """
import asyncio, json, sys
from omics_waiter import OmicsWaiter, ReadSetActivationJobRef
from omics_waiter.testing import OmicsEmulator, Step

assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported at import"

async def main():
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    def requests(reader):
        data = reader.get_metrics_data()
        return sum(
            p.value
            for r in (data.resource_metrics if data else ())
            for s in r.scope_metrics
            for m in s.metrics
            if m.name == "omics_waiter.requests"
            for p in m.data.data_points
        )

    steps = [Step(0.05, "IN_PROGRESS"), Step(0.3, "COMPLETED")]
    async with OmicsEmulator(seed=1) as emu:
        def job():
            store, read_set = "1234567890", "1111111111"
            return ReadSetActivationJobRef(store, emu.add_job(store, [read_set], timeline=steps))

        options = dict(endpoint_url=emu.endpoint_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing",
                       min_delay=0.05, max_delay=0.1)
        passed = InMemoryMetricReader()
        async with OmicsWaiter.connect(**options) as waiter, OmicsWaiter.connect(
            meter_provider=MeterProvider(metric_readers=[passed]), **options
        ) as own:
            await waiter.wait(job())  # no provider yet: recorded nowhere
            before = emu.stats.count()
            glob = InMemoryMetricReader()
            metrics.set_meter_provider(MeterProvider(metric_readers=[glob]))
            await waiter.wait(job())
            middle = emu.stats.count()
            await own.wait(job())
            print(json.dumps({
                "global": requests(glob), "after_set": middle - before, "waiter": middle,
                "passed": requests(passed), "own": emu.stats.count() - middle,
            }))

asyncio.run(main())
"""

NO_API_SCRIPT = """
import asyncio, json, sys
sys.modules["opentelemetry"] = None  # as if opentelemetry-api were not installed
from omics_waiter import OmicsWaiter, ReadSetActivationJobRef
from omics_waiter._metrics import NO_METRICS
from omics_waiter.testing import OmicsEmulator, Step

async def main():
    async with OmicsEmulator(seed=1) as emu:
        ref = ReadSetActivationJobRef("1234567890", emu.add_job(
            "1234567890", ["1111111111"], timeline=[Step(0.2, "COMPLETED")]))
        async with OmicsWaiter.connect(
            endpoint_url=emu.endpoint_url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing", min_delay=0.05,
        ) as waiter:
            job = await waiter.wait(ref)
        print(json.dumps({"status": str(job.status), "none": waiter._metrics is NO_METRICS}))

asyncio.run(main())
"""


def run(script: str, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_global_provider_set_after_the_waiter_is_made_gets_its_requests(
    tmp_path: Path,
) -> None:
    counts = run(GLOBAL_SCRIPT, tmp_path)
    assert counts["after_set"] > 0
    # Counters report totals, so the provider set later has the waiter's requests from its start.
    assert counts["global"] == counts["waiter"]


def test_a_passed_provider_wins_over_the_global_one(tmp_path: Path) -> None:
    counts = run(GLOBAL_SCRIPT, tmp_path)
    assert counts["passed"] == counts["own"] > 0
    assert counts["global"] == counts["waiter"]  # none of the other waiter's


def test_without_opentelemetry_waiters_work_and_record_nothing(tmp_path: Path) -> None:
    assert run(NO_API_SCRIPT, tmp_path) == {"status": "COMPLETED", "none": True}
