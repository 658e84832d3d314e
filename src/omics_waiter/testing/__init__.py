"""A local HealthOmics endpoint and helpers for testing code that waits on jobs.

`OmicsEmulator` serves, over the real rest-json wire protocol routed and validated from
botocore's service model, with SigV4 verification: read set activation, import and export jobs,
reference import jobs, runs and their tasks, variant and annotation import jobs, workflows and
workflow versions. Life cycles are seeded-random or scripted (`Step`), per kind (`Kind`); faults
are injected with `Faults`; requests and events are counted in `EmulatorStats`. Given an
EventBridge endpoint, it publishes every status change as the service does (best effort).
"""

from omics_waiter.testing._emulator import OmicsEmulator
from omics_waiter.testing._faults import Faults
from omics_waiter.testing._jobs import TERMINAL_STATUSES, Step
from omics_waiter.testing._kinds import Kind
from omics_waiter.testing._stats import EmulatorStats

__all__ = ["EmulatorStats", "Faults", "Kind", "OmicsEmulator", "Step", "TERMINAL_STATUSES"]
