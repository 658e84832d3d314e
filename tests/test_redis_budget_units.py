"""RedisBudget's decisions and checks that need no Redis server (a closed port at most)."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys

import pytest
import trio

from fakes import ManualClock as FakeClock
from omics_waiter import InvalidInputError, OmicsWaiterError, RedisBudget
from omics_waiter._redis_budget import FALLBACK, fallback_share, parse_reply, probe_due


def closed_port() -> int:
    """A port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_fallback_share_divides_max_tps_among_the_replicas_last_seen() -> None:
    assert fallback_share(5.0, 4, 1) == 1.25
    assert fallback_share(5.0, 1, 3) == 5.0


def test_before_redis_was_ever_reached_the_share_assumes_the_given_replicas() -> None:
    assert fallback_share(6.0, None, 3) == 2.0
    assert fallback_share(6.0, 0, 1) == 6.0


def test_a_lost_redis_is_probed_only_once_the_interval_has_passed() -> None:
    assert not probe_due(10.0, 9.0, 2.0)
    assert probe_due(11.0, 9.0, 2.0)


def test_a_reply_is_read_into_a_reservation() -> None:
    raw = [1, "250000", "2.5", "1700000000000000", "host:1:ab", 3, "1700000000500000", "1.25", ""]
    reservation = parse_reply(raw)
    assert reservation.granted
    assert reservation.wait == 0.25
    assert reservation.rate == 2.5
    assert reservation.cut_at == 1_700_000_000_000_000
    assert reservation.cut_by == "host:1:ab"
    assert reservation.replicas == 3
    assert reservation.cuts == (1.25, None)


def test_a_reply_never_cut_has_no_cut_time() -> None:
    assert parse_reply([0, "0", "5", "", "", 1, "1"]).cut_at is None


def test_a_malformed_reply_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unexpected reply"):
        parse_reply("OK")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/0",
        "redis://",
        "redis://127.0.0.1:notaport/0",
        "redis://127.0.0.1:99999/0",
        "redis://127.0.0.1:6379/db",
        "127.0.0.1:6379",
        "",
        42,
    ],
)
def test_a_malformed_url_is_invalid_input_from_the_constructor(url: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        RedisBudget(url)  # type: ignore[arg-type]
    assert caught.value.argument == "url"


def test_the_password_appears_in_no_message_or_repr() -> None:
    with pytest.raises(InvalidInputError) as caught:
        RedisBudget("redis://:s3cret@127.0.0.1:99999/0")
    assert "s3cret" not in str(caught.value)
    budget = RedisBudget("redis://user:s3cret@127.0.0.1:6379/0")
    assert "s3cret" not in repr(budget)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_tps", 0),
        ("max_tps", float("inf")),
        ("key", ""),
        ("key", "a{b}"),
        ("timeout", 0),
        ("probe_interval", -1),
        ("replica_timeout", "60"),
        ("fallback_replicas", 0),
    ],
)
def test_an_option_out_of_range_is_invalid_input_naming_it(option: str, value: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        RedisBudget("redis://127.0.0.1:6379/0", **{option: value})  # type: ignore[arg-type]
    assert caught.value.argument == option


def test_without_the_redis_package_the_error_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m == "redis" or m.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)
    with pytest.raises(OmicsWaiterError, match=r"omics-waiter\[redis\]"):
        RedisBudget("redis://127.0.0.1:6379/0")


def test_the_package_imports_without_redis_installed() -> None:
    code = (
        "import sys; sys.modules['redis'] = None; import omics_waiter; "
        "print(omics_waiter.RedisBudget.__name__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "RedisBudget"), done.stderr


def test_on_trio_acquire_says_it_runs_on_asyncio_only() -> None:
    budget = RedisBudget("redis://127.0.0.1:6379/0")
    with pytest.raises(OmicsWaiterError, match="asyncio only"):
        trio.run(budget.acquire, "GetReadSetActivationJob")


@pytest.mark.asyncio
async def test_unreachable_at_start_falls_back_to_the_assumed_share_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="omics_waiter")
    clock = FakeClock(0.0)
    budget = RedisBudget(
        f"redis://127.0.0.1:{closed_port()}/0",
        max_tps=6,
        fallback_replicas=3,
        clock=clock,
        probe_interval=1.0,
    )
    async with budget:
        assert budget.mode == FALLBACK
        # 2 requests/s: slots 0.5 s apart on the waiter's clock; probes (every 1 s of
        # it) fail at once and say nothing more.
        granted = [await budget.acquire("Get") for _ in range(8)]
    assert granted == [True] * 8
    assert budget.rate("Get") == 2.0
    assert clock.sleeps == pytest.approx([0.5] * 7)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()


@pytest.mark.asyncio
async def test_in_fallback_no_slot_after_not_after_and_nothing_reserved() -> None:
    clock = FakeClock(0.0)
    budget = RedisBudget(f"redis://127.0.0.1:{closed_port()}/0", max_tps=1, clock=clock)
    async with budget:
        assert await budget.acquire("Get", 10.0)
        assert not await budget.acquire("Get", 0.5)
        assert await budget.acquire("Get", 10.0)
    assert clock.sleeps == pytest.approx([1.0])


@pytest.mark.asyncio
async def test_in_fallback_a_throttle_halves_the_local_share() -> None:
    clock = FakeClock(0.0)
    budget = RedisBudget(f"redis://127.0.0.1:{closed_port()}/0", max_tps=4, clock=clock)
    async with budget:
        budget.throttled("Get")
    assert budget.rate("Get") == 2.0


@pytest.mark.asyncio
async def test_a_closed_budget_refuses_to_hand_out_slots() -> None:
    budget = RedisBudget(f"redis://127.0.0.1:{closed_port()}/0")
    await budget.aclose()
    with pytest.raises(OmicsWaiterError, match="closed"):
        await budget.acquire("Get")
