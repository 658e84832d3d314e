"""The ``omics-waiter`` command."""

from __future__ import annotations

import click

from omics_waiter.testing._command import emulator

__all__ = ["main"]


@click.group()
def main() -> None:
    """Wait on AWS HealthOmics jobs from asyncio services."""


main.add_command(emulator)
