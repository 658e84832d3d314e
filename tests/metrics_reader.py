"""Reading omics-waiter's instruments back through the OpenTelemetry SDK's in-memory reader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader


@dataclass(frozen=True)
class Histogram:
    count: int
    sum: float
    bucket_counts: tuple[int, ...]
    bounds: tuple[float, ...]


class Metrics:
    """A meter provider with an in-memory reader; each read collects (gauges are observed)."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)

    def close(self) -> None:
        self.provider.shutdown()

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        found: list[Any] = []
        for resource in data.resource_metrics if data is not None else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        found.extend(metric.data.data_points)
        return found

    def _matching(self, name: str, attributes: dict[str, str]) -> Iterator[Any]:
        for point in self.points(name):
            if all(point.attributes.get(k) == v for k, v in attributes.items()):
                yield point

    def value(self, name: str, **attributes: str) -> float:
        """The sum of a counter's, up-down counter's or gauge's points that match."""
        return sum(p.value for p in self._matching(name, attributes))

    def by(self, name: str, attribute: str, **attributes: str) -> dict[str, float]:
        """Point values by one attribute's value (points without it are left out)."""
        out: dict[str, float] = {}
        for point in self._matching(name, attributes):
            key = point.attributes.get(attribute)
            if key is not None:
                out[str(key)] = out.get(str(key), 0) + point.value
        return out

    def histogram(self, name: str, **attributes: str) -> Histogram:
        """The matching histogram points, added up."""
        points = list(self._matching(name, attributes))
        if not points:
            return Histogram(0, 0.0, (), ())
        bounds = tuple(points[0].explicit_bounds)
        buckets = [0] * (len(bounds) + 1)
        for point in points:
            for index, n in enumerate(point.bucket_counts):
                buckets[index] += n
        return Histogram(
            sum(p.count for p in points), sum(p.sum for p in points), tuple(buckets), bounds
        )
