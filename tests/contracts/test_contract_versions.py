"""Version rules: one class per (type, major version), subjects match producers, purity."""

from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

import pytest

from chore_common.contracts import Contract, contract_for, register, registered, registry
from chore_common.contracts.registry import DuplicateContract, producer_of
from chore_common.contracts.tasks import TaskCreatedV1

PRODUCERS = {"auth", "tasks", "messaging"}


def test_every_contract_has_a_major_version_and_a_subject_of_its_producer() -> None:
    for contract in registered():
        assert isinstance(contract.VERSION, int)
        assert contract.VERSION >= 1
        assert producer_of(contract.TYPE) in PRODUCERS
        assert contract.__name__.endswith(f"V{contract.VERSION}")


def test_registering_another_class_for_a_taken_type_and_version_is_refused() -> None:
    class Impostor(Contract):
        TYPE: ClassVar = "tasks.task.created"
        VERSION: ClassVar = 1

    with pytest.raises(DuplicateContract):
        register(Impostor)


def test_registering_the_same_class_twice_is_harmless() -> None:
    assert register(TaskCreatedV1) is TaskCreatedV1


def test_a_new_major_version_is_a_new_class_registered_beside_the_old(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A private copy of the registry, so the example stays out of the generated docs.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register
    class TaskCreatedV2(Contract):
        TYPE: ClassVar = "tasks.task.created"
        VERSION: ClassVar = 2
        task_id: str

    assert contract_for("tasks.task.created", 1) is TaskCreatedV1
    assert contract_for("tasks.task.created", 2) is TaskCreatedV2
    assert contract_for("tasks.task.created", 3) is None


def test_contracts_are_pure_and_import_no_nats_sql_or_http() -> None:
    probe = (
        "import sys, chore_common.contracts, chore_common.contracts.asyncapi;"
        "print(','.join(m for m in ('nats', 'sqlalchemy', 'aiohttp') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
