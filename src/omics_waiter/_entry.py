"""The console script: the command line lives behind the ``cli`` extra (click, rich)."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Run ``omics-waiter``, or say which extra to install if the CLI's libraries are missing."""
    try:
        import click  # noqa: F401
        import rich  # noqa: F401
    except ImportError as exc:
        sys.stderr.write(
            f"omics-waiter: error: the command line needs {exc.name}: "
            "pip install 'omics-waiter[cli]'\n"
        )
        sys.exit(2)
    from ._cli import main as cli

    cli(prog_name="omics-waiter")
