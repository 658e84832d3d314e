"""A local HealthOmics endpoint and helpers for testing code that waits on jobs.

`OmicsEmulator` serves StartReadSetActivationJob, GetReadSetActivationJob and
ListReadSetActivationJobs over the real rest-json wire protocol, with SigV4 verification, scripted
or seeded-random job life cycles (`Step`), fault injection (`Faults`) and request counters
(`EmulatorStats`).
"""

from omics_waiter.testing._emulator import OmicsEmulator
from omics_waiter.testing._faults import Faults
from omics_waiter.testing._jobs import TERMINAL_STATUSES, Step
from omics_waiter.testing._stats import EmulatorStats

__all__ = ["EmulatorStats", "Faults", "OmicsEmulator", "Step", "TERMINAL_STATUSES"]
