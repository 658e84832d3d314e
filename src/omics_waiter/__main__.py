"""``python -m omics_waiter``: the ``omics-waiter`` command."""

from omics_waiter._entry import main

if __name__ == "__main__":
    main()
