"""`pspx status` looks for the broker and the database where the settings put them: the
embedded parts' ports on this machine, other containers or hosts in a deployment."""

from __future__ import annotations

from pathlib import Path

from pspx.settings import Settings
from stack.cli import _kafka_address, _mongo_address, _reached


def test_a_deployment_is_checked_at_its_own_addresses(tmp_path: Path) -> None:
    deployed = _reached(
        Settings(
            data_dir=tmp_path,
            kafka_bootstrap="kafka:9092,kafka-2:9092",
            mongo_url="mongodb://pspx:secret@mongo-0.mongo:27018,mongo-1.mongo/?replicaSet=rs0",
        )
    )
    assert _kafka_address(deployed) == ("kafka", 9092)
    assert _mongo_address(deployed) == ("mongo-0.mongo", 27018)


def test_the_embedded_stack_is_checked_at_its_ports(tmp_path: Path) -> None:
    embedded = _reached(Settings(data_dir=tmp_path, kafka_port=19092, mongo_port=28017))
    assert _kafka_address(embedded) == ("127.0.0.1", 19092)
    assert _mongo_address(embedded) == ("127.0.0.1", 28017)


def test_a_mongo_host_without_a_port_is_on_the_default_one(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mongo_url="mongodb://mongo/?replicaSet=rs0")
    assert _mongo_address(settings) == ("mongo", 27017)
