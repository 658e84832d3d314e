"""`omics_waiter.events`: the public home of push set-up, tear-down and the SQS source."""

import inspect
import subprocess
import sys

import omics_waiter.events


def test_all_lists_exactly_the_public_names_that_exist() -> None:
    public = {n for n in dir(omics_waiter.events) if not n.startswith("_")}
    assert set(omics_waiter.events.__all__) == public
    assert omics_waiter.events.__all__ == sorted(omics_waiter.events.__all__)


def test_the_documented_names_are_there_and_documented() -> None:
    names = {"setup_events", "teardown_events", "SqsEventSource", "StatusHint", "Teardown"}
    assert names <= set(omics_waiter.events.__all__)
    for name in omics_waiter.events.__all__:
        assert inspect.getdoc(getattr(omics_waiter.events, name)), name


def test_teardown_events_returns_the_public_result_type() -> None:
    hints = inspect.get_annotations(omics_waiter.events.teardown_events, eval_str=True)
    assert hints["return"] is omics_waiter.events.Teardown


def test_import_omics_waiter_does_not_import_the_events_module() -> None:
    code = "import sys, omics_waiter; print('omics_waiter.events' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"
