import datetime as dt

import pytest

from omics_waiter._client import parse_timestamp

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T00:36:55.323Z", dt.datetime(2026, 11, 29, 0, 36, 55, 323000, UTC)),
        ("2026-11-29T00:36:55Z", dt.datetime(2026, 11, 29, 0, 36, 55, tzinfo=UTC)),
        ("2026-11-29T00:36:55.323000+00:00", dt.datetime(2026, 11, 29, 0, 36, 55, 323000, UTC)),
        ("2026-11-29T02:36:55+02:00", dt.datetime(2026, 11, 29, 0, 36, 55, tzinfo=UTC)),
        ("2026-11-29T00:36:55", dt.datetime(2026, 11, 29, 0, 36, 55, tzinfo=UTC)),
        ("2026-11-29T00:36:55.3Z", dt.datetime(2026, 11, 29, 0, 36, 55, 300000, UTC)),
    ],
)
def test_timestamps_parse_to_aware_datetimes_like_botocore(
    text: str, expected: dt.datetime
) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed.tzinfo is not None
