"""A local Amazon Personalize emulator for the batch-job inventory.

An aiohttp server speaking the service's AWS JSON 1.1 protocol, so unmodified boto3,
aiobotocore and the aws CLI work against it through ``endpoint_url``. It serves a
deterministic seeded inventory (up to millions of jobs, computed on demand), validates
requests against botocore's service model, pages with tamper-evident tokens, and
injects latency, throttling and server errors on demand. Beside Personalize it serves
an AWS Organization of several accounts: STS (``AssumeRole``, ``GetCallerIdentity``)
and Organizations (``ListAccounts``), each account with its own inventory.

- ``EmulatorOptions``: every setting of an emulator, one frozen record taken by all
  three runners below, the ``serve`` command and the pytest plugin.
- ``Emulator``: the server, as an async context manager, in-process.
- ``EmulatorThread``: the same on its own loop in a background thread (sync code).
- ``EmulatorProcess``: ``aiopersonalize serve`` as a subprocess (benchmarks).
- ``pytest_plugin``: fixtures for users' test suites.
- ``serve``: the ``aiopersonalize serve`` command, and the flags of ``EmulatorOptions``.
"""

from ._faults import Faults, Stats
from ._identity import account_ids
from ._inventory import InventorySpec, JobKind
from ._options import DEFAULT_JOB_TRANSITION_SECONDS, EmulatorOptions
from ._process import EmulatorProcess
from ._server import Emulator
from ._thread import EmulatorThread
from .serve import DEFAULT_PORT

__all__ = [
    "DEFAULT_JOB_TRANSITION_SECONDS",
    "DEFAULT_PORT",
    "Emulator",
    "EmulatorOptions",
    "EmulatorProcess",
    "EmulatorThread",
    "Faults",
    "InventorySpec",
    "JobKind",
    "Stats",
    "account_ids",
]
