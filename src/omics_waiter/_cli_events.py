"""``omics-waiter events setup|teardown``: the SQS queue and EventBridge rule for push.

Exit codes as the rest of the command line: 0 done; 2 invalid input; 4 access or service
error. Errors are one line on stderr.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ._cli_common import run_command

__all__ = ["register_events_commands"]

F = TypeVar("F", bound=Callable[..., Any])


def _options(f: F) -> F:
    options = [
        click.option(
            "--name",
            required=True,
            metavar="NAME",
            help="Names the queue and the rule: 1-64 letters, digits, '-' or '_'.",
        ),
        click.option(
            "--region", metavar="REGION", help="The Region where the jobs run (default: profile)."
        ),
        click.option("--profile", metavar="NAME", help="Profile from the AWS config files."),
        click.option(
            "--endpoint-url",
            metavar="URL",
            help="Another endpoint than AWS's, for SQS and EventBridge (e.g. a local server).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def register_events_commands(group: click.Group) -> None:
    """Add the ``events`` command group (``setup``, ``teardown``) to `group`."""

    @group.group("events")
    def events() -> None:
        """Set up or remove the queue that brings HealthOmics events (see docs/push.md).

        One queue per waiter process: a message one consumer receives, another does not.
        """

    @events.command("setup")
    @_options
    def setup(name: str, region: str | None, profile: str | None, endpoint_url: str | None) -> None:
        """Create the SQS queue NAME and the EventBridge rule NAME feeding it; print its URL.

        The rule sends every HealthOmics event (source aws.omics) of the Region to the
        queue; the queue's policy lets that rule, and only it, send. Running it again
        changes nothing. Prints queue_url=URL.
        """
        from ._events_setup import setup_events

        async def command() -> int:
            queue_url = await setup_events(
                name, region_name=region, profile_name=profile, endpoint_url=endpoint_url
            )
            click.echo(f"queue_url={queue_url}")
            return 0

        run_command(command)

    @events.command("teardown")
    @_options
    def teardown(
        name: str, region: str | None, profile: str | None, endpoint_url: str | None
    ) -> None:
        """Remove the rule's target, the rule NAME and the queue NAME (those that exist).

        Prints one line for the rule and one for the queue: what was removed, or that it
        was not there (still exit 0). A rule that has other targets is kept.
        """
        from ._events_setup import teardown_events

        async def command() -> int:
            done = await teardown_events(
                name, region_name=region, profile_name=profile, endpoint_url=endpoint_url
            )
            for line in done.describe():
                click.echo(line)
            return 0

        run_command(command)
