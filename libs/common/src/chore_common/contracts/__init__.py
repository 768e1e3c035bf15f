"""The platform's published language: the event envelope and every versioned payload.

Pure pydantic (no NATS, SQL or HTTP), so any service, ours or a future one, may import it.
Importing this package registers every contract.
"""

from chore_common.contracts import auth, messaging, tasks
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract, contract_for, register, registered

__all__ = [
    "Contract",
    "Envelope",
    "auth",
    "contract_for",
    "messaging",
    "register",
    "registered",
    "tasks",
]
