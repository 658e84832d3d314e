"""The console script ``omics-waiter`` (and ``python -m omics_waiter``).

click and rich are dependencies of the package, so a plain ``pip install omics-waiter`` has a
working command; the ``cli`` extra stays, empty, for installs that still name it.
"""

from __future__ import annotations

__all__ = ["main"]


def main() -> None:
    """Run the ``omics-waiter`` command."""
    from ._cli import main as cli

    cli(prog_name="omics-waiter")
