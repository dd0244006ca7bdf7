"""deploy/kubernetes/: the manifests validate against the Kubernetes API's schemas, the
kustomization lists them all, and every Deployment, Service, autoscaler and setting they
name is one the code really has.

No cluster is needed. `kustomize build` is done here for the parts the checks need
(namespace, common labels, image tags); where `kustomize` or `kubectl` is installed, the
result is compared with the real build, so this stand-in cannot drift from it.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from pspx.settings import Settings
from stack import manifest

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "deploy" / "kubernetes"
KUSTOMIZATION = FOLDER / "kustomization.yaml"

# The API version the manifests are checked against: pinned so that a new release of
# kubernetes-validate's schemas cannot change the verdict unnoticed. autoscaling/v2 and
# policy/v1 are served from 1.23 on.
KUBERNETES_VERSION = "1.34.0"

NAMESPACE = "pspx"
CONFIG_MAP = "pspx-config"
SECRET = "pspx-secrets"
IMAGE = "pspx"
# Examples an operator fills in and applies by hand; never applied by `kubectl apply -k`.
EXAMPLE_SUFFIX = ".example.yaml"
SECRET_EXAMPLE = FOLDER / "secret.example.yaml"
INGRESS_EXAMPLE = FOLDER / "ingress.example.yaml"
# Settings that hold secrets: the example may name them, never give them a value.
SECRET_SETTINGS = ("PSPX_SESSION_SECRET", "PSPX_OIDC_CLIENT_SECRET")
# Services that scale on CPU: matching (searches) and the gateway (every request).
AUTOSCALED = {"matching", "gateway"}

Doc = dict[str, Any]

# --- reading ----------------------------------------------------------------------------


def load(path: Path) -> list[Doc]:
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    assert all(isinstance(d, dict) for d in docs), f"{path.name}: every document is a mapping"
    return docs


def kustomization() -> Doc:
    (doc,) = load(KUSTOMIZATION)
    return doc


def manifest_files() -> list[Path]:
    """Every YAML file of the folder but the kustomization itself."""
    return sorted(
        p for p in FOLDER.iterdir() if p.suffix in {".yaml", ".yml"} and p != KUSTOMIZATION
    )


# --- the build, done here -----------------------------------------------------------------

# Fields of a kustomization this stand-in applies; any other makes the tests fail rather
# than check something kustomize would have built differently.
KNOWN_FIELDS = {"apiVersion", "kind", "namespace", "labels", "resources", "images"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "IngressClass",
    "PersistentVolume",
    "PriorityClass",
    "StorageClass",
}
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def render(folder: Path = FOLDER) -> list[Doc]:
    """What `kustomize build folder` gives for the fields in ``KNOWN_FIELDS``."""
    (kust,) = load(folder / "kustomization.yaml")
    unknown = set(kust) - KNOWN_FIELDS
    assert not unknown, f"the test's build does not apply {sorted(unknown)}: teach it first"
    docs = [doc for name in kust.get("resources", []) for doc in load(folder / name)]
    for doc in docs:
        meta = doc.setdefault("metadata", {})
        if "namespace" in kust and doc["kind"] not in CLUSTER_SCOPED:
            meta["namespace"] = kust["namespace"]
        for group in kust.get("labels", []):
            assert not group.get("includeSelectors"), "selector labels are not built here"
            meta.setdefault("labels", {}).update(group["pairs"])
            if group.get("includeTemplates") and doc["kind"] in WORKLOADS:
                template = doc["spec"]["template"].setdefault("metadata", {})
                template.setdefault("labels", {}).update(group["pairs"])
        for image in kust.get("images", []):
            for container in containers(doc):
                if image_name(container["image"]) == image["name"]:
                    container["image"] = new_image(image)
    return docs


def image_name(image: str) -> str:
    """The image without its tag or digest."""
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


def new_image(image: Doc) -> str:
    name = str(image.get("newName") or image["name"])
    if "digest" in image:
        return f"{name}@{image['digest']}"
    return f"{name}:{image['newTag']}" if "newTag" in image else name


def containers(doc: Doc) -> list[Doc]:
    if doc.get("kind") not in WORKLOADS:
        return []
    pod = doc["spec"]["template"]["spec"]
    found: list[Doc] = [*pod.get("initContainers", []), *pod.get("containers", [])]
    return found


def kustomize_command() -> list[str] | None:
    kustomize, kubectl = shutil.which("kustomize"), shutil.which("kubectl")
    if kustomize is not None:
        return [kustomize, "build", str(FOLDER)]
    if kubectl is not None:
        return [kubectl, "kustomize", str(FOLDER)]
    return None


def key(doc: Doc) -> tuple[str, str]:
    return doc["kind"], doc["metadata"]["name"]


# --- what the built manifests hold ----------------------------------------------------------


@pytest.fixture(scope="module")
def built() -> list[Doc]:
    return render()


def of_kind(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def config_data(docs: list[Doc]) -> dict[str, str]:
    data: dict[str, str] = of_kind(docs, "ConfigMap")[CONFIG_MAP]["data"]
    return data


def secret_example() -> Doc:
    (secret,) = load(SECRET_EXAMPLE)
    return secret


def secret_keys(secret: Doc) -> set[str]:
    return {*secret.get("stringData", {}), *secret.get("data", {})}


def setting(env_name: str) -> str | None:
    """The Settings field an environment variable sets, or None if it sets none."""
    if not env_name.startswith("PSPX_"):
        return None
    name = env_name.removeprefix("PSPX_").lower()
    return name if name in Settings.model_fields else None


def container_settings(docs: list[Doc], container: Doc) -> Settings:
    """The settings a container starts with: the ConfigMap, then its own env (the Secret's
    values are the operator's, so they are left out here)."""
    env = dict(config_data(docs))
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    values = {setting(k) or k: v for k, v in env.items()}
    # model_validate, not Settings(...): the test process's own PSPX_ variables stay out.
    return Settings.model_validate(values)


def container_port(container: Doc, port: int | str) -> int | None:
    """A probe's or a Service's port, by number or by the container port's name."""
    for declared in container.get("ports", []):
        if port in (declared["containerPort"], declared.get("name")):
            number: int = declared["containerPort"]
            return number
    return None


def quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity (250m, 1, 512Mi, 1Gi, 1e3) as a number."""
    suffixes = {
        "m": Decimal("0.001"),
        "k": Decimal(10**3),
        "M": Decimal(10**6),
        "G": Decimal(10**9),
        "Ki": Decimal(2**10),
        "Mi": Decimal(2**20),
        "Gi": Decimal(2**30),
        "Ti": Decimal(2**40),
    }
    match = re.fullmatch(r"([0-9.]+(?:e[0-9]+)?)([a-zA-Z]*)", str(value))
    assert match and match[2] in {"", *suffixes}, f"not a quantity: {value!r}"
    return Decimal(match[1]) * suffixes.get(match[2], Decimal(1))


def only_container(deployment: Doc) -> Doc:
    pod = deployment["spec"]["template"]["spec"]
    assert len(pod["containers"]) == 1, f"{deployment['metadata']['name']}: one container"
    container: Doc = pod["containers"][0]
    return container


def deployment_problems(docs: list[Doc], deployment: Doc) -> list[str]:
    """What is wrong with one built Deployment, in words; empty when nothing is."""
    name = deployment["metadata"]["name"]
    pod = deployment["spec"]["template"]["spec"]
    container = only_container(deployment)
    problems: list[str] = []

    command = [*container.get("command", []), *container.get("args", [])]
    if command[:2] != ["pspx", "serve"] or len(command) != 3:
        problems.append(f"runs {command}, not `pspx serve SERVICE`")
    elif command[2] not in manifest.names():
        problems.append(f"serves {command[2]!r}, which `pspx serve` does not know")
    elif command[2] != name:
        problems.append(f"is named {name} but serves {command[2]}")
    if image_name(container["image"]) != IMAGE:
        problems.append(f"runs image {container['image']}, not {IMAGE}")

    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    if env.get("PSPX_HOST") != "0.0.0.0":
        problems.append("does not bind to every interface (PSPX_HOST=0.0.0.0)")
    refs = [
        ("configMap", s["configMapRef"]["name"])
        if "configMapRef" in s
        else ("secret", s["secretRef"]["name"])
        for s in container.get("envFrom", [])
    ]
    if refs != [("configMap", CONFIG_MAP), ("secret", SECRET)]:
        problems.append(f"reads {refs}: the ConfigMap, then the Secret, which overrides it")
    if any(s.get("secretRef", {}).get("optional") for s in container.get("envFrom", [])):
        problems.append("starts without its secrets")

    if name in manifest.names():
        expected = manifest.spec(name).port(container_settings(docs, container))
        probes = {
            "readinessProbe": "/readyz",
            "livenessProbe": "/healthz",
            "startupProbe": "/healthz",
        }
        for probe, path in probes.items():
            http = container.get(probe, {}).get("httpGet")
            if http is None:
                if probe != "startupProbe":  # the one probe left to choice
                    problems.append(f"has no {probe} over HTTP")
                continue
            if http["path"] != path:
                problems.append(f"{probe} asks {http['path']}, not {path}")
            if container_port(container, http["port"]) != expected:
                problems.append(f"{probe} asks port {http['port']}, not {expected}")

    pod_security = pod.get("securityContext", {})
    security = container.get("securityContext", {})
    if not security.get("runAsNonRoot", pod_security.get("runAsNonRoot")):
        problems.append("may run as root (runAsNonRoot)")
    if security.get("runAsUser", pod_security.get("runAsUser")) == 0:
        problems.append("runs as user 0")
    if not security.get("readOnlyRootFilesystem"):
        problems.append("can write its root filesystem")
    if security.get("allowPrivilegeEscalation", True):
        problems.append("allows privilege escalation")
    if security.get("privileged"):
        problems.append("is privileged")
    if "ALL" not in security.get("capabilities", {}).get("drop", []):
        problems.append("keeps Linux capabilities (drop ALL)")
    if security.get("capabilities", {}).get("add"):
        problems.append("adds Linux capabilities")

    data_dir = env.get("PSPX_DATA_DIR")
    empty_dirs = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
    mounted = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
    if data_dir is None or mounted.get(data_dir) not in empty_dirs:
        problems.append(f"has no emptyDir at its data directory (PSPX_DATA_DIR={data_dir})")

    resources = container.get("resources", {})
    for resource in ("cpu", "memory"):
        request = resources.get("requests", {}).get(resource)
        limit = resources.get("limits", {}).get(resource)
        if request is None or limit is None:
            problems.append(f"has no {resource} request and limit")
        elif quantity(request) > quantity(limit):
            problems.append(f"requests more {resource} ({request}) than its limit ({limit})")
    return problems


def selects(selector: dict[str, str], deployment: Doc) -> bool:
    labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def selected(docs: list[Doc], selector: dict[str, str]) -> list[str]:
    return [n for n, d in of_kind(docs, "Deployment").items() if selects(selector, d)]


# --- the manifests validate -------------------------------------------------------------


def documents() -> list[Any]:
    return [
        pytest.param(doc, id=f"{path.name}#{i}:{doc.get('kind')}")
        for path in manifest_files()
        for i, doc in enumerate(load(path))
    ]


def schema_problem(doc: Doc) -> str | None:
    """Why the API would refuse ``doc``, in one line; None if it would take it.

    Strict: a field the API does not have (a typo, a field at the wrong level) is refused.
    """
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(top)"
        return f"{key(doc)} at {where}: {exc.message}"
    return None


@pytest.mark.parametrize("doc", documents())
def test_every_manifest_validates_against_the_api_schema(doc: Doc) -> None:
    assert schema_problem(doc) is None


def test_the_built_manifests_validate_too(built: list[Doc]) -> None:
    assert [p for p in map(schema_problem, built) if p] == []


def test_the_validation_is_strict() -> None:
    (deployment,) = [d for d in load(FOLDER / "matching.yaml") if d["kind"] == "Deployment"]
    broken = copy.deepcopy(deployment)
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    assert "readinesProbe" in (schema_problem(broken) or "")


# --- the kustomization ------------------------------------------------------------------


def test_the_kustomization_lists_every_manifest_but_the_examples() -> None:
    listed = kustomization()["resources"]
    files = {p.name for p in manifest_files()}
    assert len(listed) == len(set(listed)), "a resource is listed twice"
    assert sorted(set(listed) - files) == [], "listed but missing from the folder"
    unlisted = sorted(files - set(listed))
    assert [n for n in unlisted if not n.endswith(EXAMPLE_SUFFIX)] == [], "never applied"
    assert not [n for n in listed if n.endswith(EXAMPLE_SUFFIX)], "an example is applied"
    assert SECRET_EXAMPLE.name in files


def test_the_kustomization_sets_namespace_labels_and_image_tag(built: list[Doc]) -> None:
    kust = kustomization()
    assert kust["namespace"] == NAMESPACE
    assert of_kind(built, "Namespace").keys() == {NAMESPACE}, "the namespace is created too"
    images = {i["name"]: i for i in kust["images"]}
    assert images.keys() == {IMAGE} and images[IMAGE].get("newTag"), "one tag for the image"
    common = {k: v for group in kust["labels"] for k, v in group["pairs"].items()}
    assert common, "common labels"
    for doc in built:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == NAMESPACE, key(doc)
        assert common.items() <= doc["metadata"]["labels"].items(), key(doc)
    for deployment in of_kind(built, "Deployment").values():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert common.items() <= pod_labels.items()
        assert only_container(deployment)["image"] == new_image(images[IMAGE])


def test_the_build_here_matches_kustomize(built: list[Doc]) -> None:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed: the build here stands alone")
    # A guard against a hung tool, not a measurement.
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    real = [d for d in yaml.safe_load_all(run.stdout) if d is not None]
    assert sorted(real, key=key) == sorted(built, key=key)


def test_no_secret_is_applied_or_committed_with_a_value(built: list[Doc]) -> None:
    assert of_kind(built, "Secret") == {}, "secrets are created by hand, never applied here"
    secret = secret_example()
    assert secret["kind"] == "Secret" and secret["metadata"]["name"] == SECRET
    values = {**secret.get("stringData", {}), **secret.get("data", {})}
    for name in SECRET_SETTINGS:
        assert name in values, f"the example names {name}"
        assert not values[name], f"{name} must have no working default"


# --- Deployments ------------------------------------------------------------------------


def test_every_service_has_a_deployment(built: list[Doc]) -> None:
    assert sorted(of_kind(built, "Deployment")) == sorted(manifest.names())


@pytest.mark.parametrize("name", manifest.names())
def test_the_deployment_is_sound(built: list[Doc], name: str) -> None:
    assert deployment_problems(built, of_kind(built, "Deployment")[name]) == []


BREAKAGES: dict[str, tuple[Callable[[Doc], None], str]] = {
    "unknown service": (lambda c: c.update(command=["pspx", "serve", "ranking"]), "not know"),
    "other command": (lambda c: c.update(command=["pspx", "up"]), "not `pspx serve"),
    "readiness on healthz": (
        lambda c: c["readinessProbe"]["httpGet"].update(path="/healthz"),
        "readinessProbe asks /healthz",
    ),
    "liveness on another port": (
        lambda c: c["livenessProbe"]["httpGet"].update(port=8101),
        "livenessProbe asks port 8101",
    ),
    "no liveness": (lambda c: c.pop("livenessProbe"), "no livenessProbe"),
    "root": (lambda c: c["securityContext"].update(runAsNonRoot=False), "as root"),
    "writable root": (
        lambda c: c["securityContext"].update(readOnlyRootFilesystem=False),
        "root filesystem",
    ),
    "capabilities kept": (lambda c: c["securityContext"].pop("capabilities"), "drop ALL"),
    "escalation": (lambda c: c["securityContext"].pop("allowPrivilegeEscalation"), "escalation"),
    "no limits": (lambda c: c["resources"].pop("limits"), "request and limit"),
    "request over limit": (
        lambda c: c["resources"]["requests"].update(memory="8Gi"),
        "more memory",
    ),
    "local only": (lambda c: c.update(env=[]), "PSPX_HOST"),
    "no secret": (lambda c: c["envFrom"].pop(), "then the Secret"),
    "no data dir": (lambda c: c.update(volumeMounts=[]), "data directory"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_the_deployment_checks_catch_a_broken_one(built: list[Doc], breakage: str) -> None:
    broken = copy.deepcopy(of_kind(built, "Deployment")["matching"])
    edit, complaint = BREAKAGES[breakage]
    edit(only_container(broken))
    problems = deployment_problems(built, broken)
    assert any(complaint in p for p in problems), problems


def test_matching_asks_the_most_memory(built: list[Doc]) -> None:
    # It holds every partner's document and the whole index in memory.
    memory = {
        name: quantity(only_container(d)["resources"]["requests"]["memory"])
        for name, d in of_kind(built, "Deployment").items()
    }
    assert max(memory, key=lambda n: memory[n]) == "matching", memory


def test_every_resource_figure_says_where_it_comes_from() -> None:
    # A one-line comment above each cpu and memory figure names its measurement.
    bare = []
    for path in manifest_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if re.match(r"\s*(cpu|memory):\s*\S", line) and "#" not in line:
                if i == 0 or not lines[i - 1].strip().startswith("#"):
                    bare.append(f"{path.name}:{i + 1}: {line.strip()}")
    assert bare == []


# --- Services, autoscalers, disruption budgets -------------------------------------------


def test_every_service_selects_its_deployments_pods(built: list[Doc]) -> None:
    services = of_kind(built, "Service")
    assert sorted(services) == sorted(manifest.names())
    deployments = of_kind(built, "Deployment")
    for name, service in services.items():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
        assert selected(built, service["spec"]["selector"]) == [name]
        container = only_container(deployments[name])
        expected = manifest.spec(name).port(container_settings(built, container))
        (port,) = service["spec"]["ports"]
        assert port["port"] == expected, name
        assert container_port(container, port["targetPort"]) == expected, name


def test_the_service_urls_reach_the_services(built: list[Doc]) -> None:
    data = config_data(built)
    services = of_kind(built, "Service")
    for name in manifest.names():
        (port,) = services[name]["spec"]["ports"]
        assert data[f"PSPX_{name.upper()}_URL"] == f"http://{name}:{port['port']}"


def ingress_backends(ingress: Doc) -> set[str]:
    spec = ingress["spec"]
    paths = [p for rule in spec.get("rules", []) for p in rule.get("http", {}).get("paths", [])]
    default = [spec["defaultBackend"]] if "defaultBackend" in spec else []
    return {b["service"]["name"] for b in [*default, *(p["backend"] for p in paths)]}


def test_only_the_gateway_is_exposed(built: list[Doc]) -> None:
    public = {s.name for s in manifest.SERVICES if s.public}
    assert public == {"gateway"}
    (example,) = load(INGRESS_EXAMPLE)
    assert ingress_backends(example) == public
    for ingress in of_kind(built, "Ingress").values():
        assert ingress_backends(ingress) <= public, key(ingress)


def test_every_autoscaler_targets_a_deployment(built: list[Doc]) -> None:
    autoscalers = of_kind(built, "HorizontalPodAutoscaler")
    deployments = of_kind(built, "Deployment")
    assert autoscalers.keys() == AUTOSCALED
    for name, hpa in autoscalers.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment"), name
        assert target["name"] in deployments, name
        deployment = deployments[target["name"]]
        # Utilisation is a share of the request; a replica count in the Deployment would be
        # reset by every apply, fighting the autoscaler.
        assert "cpu" in only_container(deployment)["resources"]["requests"], name
        assert "replicas" not in deployment["spec"], name
        metrics = [
            (m["resource"]["name"], m["resource"]["target"]["type"])
            for m in hpa["spec"]["metrics"]
            if m["type"] == "Resource"
        ]
        assert ("cpu", "Utilization") in metrics, name
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], name


def test_every_disruption_budget_leaves_room_to_drain(built: list[Doc]) -> None:
    autoscalers = of_kind(built, "HorizontalPodAutoscaler")
    deployments = of_kind(built, "Deployment")
    budgets = of_kind(built, "PodDisruptionBudget")
    assert budgets.keys() >= AUTOSCALED, "the autoscaled services keep one replica in a drain"
    for name, budget in budgets.items():
        (target,) = selected(built, budget["spec"]["selector"]["matchLabels"])
        fewest = (
            autoscalers[target]["spec"]["minReplicas"]
            if target in autoscalers
            else deployments[target]["spec"].get("replicas", 1)
        )
        # A budget as large as the fewest replicas would block every node drain.
        assert budget["spec"]["minAvailable"] < fewest, name


# --- settings ---------------------------------------------------------------------------


def test_every_variable_set_is_a_real_setting(built: list[Doc]) -> None:
    names = {f"ConfigMap {CONFIG_MAP}": set(config_data(built))}
    names[f"{SECRET_EXAMPLE.name}"] = secret_keys(secret_example())
    for name, deployment in of_kind(built, "Deployment").items():
        names[f"Deployment {name}"] = {e["name"] for e in only_container(deployment)["env"]}
    unknown = {
        where: sorted(n for n in found if setting(n) is None) for where, found in names.items()
    }
    assert {where: found for where, found in unknown.items() if found} == {}


def test_the_config_map_is_valid_settings_for_kafka_and_a_replica_set(built: list[Doc]) -> None:
    values = {setting(k): v for k, v in config_data(built).items()}
    settings = Settings.model_validate(values)
    assert settings.kafka_idempotence is True, "Apache Kafka grants idempotent producers"
    assert "replicaSet=" in settings.mongo_url, "transactions need a replica set"
    for name in SECRET_SETTINGS:
        assert name not in config_data(built), f"{name} belongs in the Secret"
