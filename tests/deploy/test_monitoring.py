"""deploy/monitoring: Prometheus scrapes every service, and every query of a Grafana dashboard or
a Prometheus rule parses and asks for metrics and labels that really exist.

"Really exist" means: defined by the code (every metric object the services' modules create,
and what prometheus_client exports by itself), or exported by the Kafka exporter at the
version docker-compose.yml pins, or made by Prometheus itself (`up`).
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import promql_parser
import pytest
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from stack import manifest
from tests.deploy import files

PROMETHEUS = files.MONITORING / "prometheus.yml"
RULES = files.MONITORING / "rules.yml"
GRAFANA = files.MONITORING / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

KAFKA_EXPORTER = "danielqsj/kafka-exporter:v1.9.0"
KAFKA_EXPORTER_TARGET = "kafka-exporter:9308"
# Metrics of that exporter the queries may use, with their labels (its kafka_exporter.go).
KAFKA_EXPORTER_METRICS = {
    "kafka_consumergroup_lag": {"consumergroup", "topic", "partition"},
    "kafka_consumergroup_lag_sum": {"consumergroup", "topic"},
    "kafka_consumergroup_current_offset": {"consumergroup", "topic", "partition"},
    "kafka_consumergroup_members": {"consumergroup"},
    "kafka_topic_partition_current_offset": {"topic", "partition"},
    "kafka_topic_partitions": {"topic"},
    "kafka_brokers": set(),
}
# Labels Prometheus adds to every series it scrapes; the services' job adds `service` too.
TARGET_LABELS = {"job", "instance"}
SERVICE_TARGET_LABELS = TARGET_LABELS | {"service"}
# The subjects the dashboards must show, by the metric that carries each.
REQUIRED_ON_DASHBOARDS = {
    "events published per topic": "pspx_events_published_total",
    "events consumed per topic": "pspx_events_consumed_total",
    "consumer lag": "kafka_consumergroup_lag",
    "outbox pending": "pspx_outbox_pending",
    "dead-lettered messages": "pspx_events_dead_lettered_total",
    "HTTP latency": "pspx_http_request_seconds_bucket",
    "HTTP errors": "pspx_http_requests_total",
    "GraphQL latency": "pspx_graphql_operation_seconds_bucket",
    "GraphQL errors": "pspx_graphql_operation_seconds_count",
}
# Grafana's own variables stand in for durations; substituted so that the query parses.
GRAFANA_DURATIONS = re.compile(
    r"\$__(rate_interval|interval|range)\b|\$\{__(?:rate_interval|interval|range)\}"
)
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}
EXTRA_LABELS = {("histogram", "_bucket"): {"le"}, ("summary", ""): {"quantile"}}


@cache
def defined_metrics() -> dict[str, set[str]]:
    """Every series name the services export, with its labels."""
    for spec in manifest.SERVICES:
        importlib.import_module(spec.module)
    found: dict[str, set[str]] = {}
    for family in REGISTRY.collect():  # what is exported already, with its labels
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if name.split(".")[0] not in {"pspx", "services", "gateway", "stack"}:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, MetricWrapperBase):
                found |= series_of(value)
    return found


def series_of(metric: MetricWrapperBase) -> dict[str, set[str]]:
    (described,) = metric.describe()
    # prometheus_client keeps a metric's label names here; no public accessor exists.
    labels = set(getattr(metric, "_labelnames", ()))
    series = {}
    for suffix in SUFFIXES.get(described.type, ("",)):
        series[described.name + suffix] = labels | EXTRA_LABELS.get((described.type, suffix), set())
    return series


def known_metrics() -> dict[str, set[str]]:
    """Each series a query may select, with every label it carries once scraped."""
    known = {name: labels | SERVICE_TARGET_LABELS for name, labels in defined_metrics().items()}
    known |= {name: labels | TARGET_LABELS for name, labels in KAFKA_EXPORTER_METRICS.items()}
    known["up"] = set(SERVICE_TARGET_LABELS)  # made by Prometheus for each target it scrapes
    return known


def parse(expr: str) -> Any:
    return promql_parser.parse(GRAFANA_DURATIONS.sub("5m", expr))


def problems_of(expr: str) -> list[str]:
    """What in a query names a metric or a label that does not exist."""
    try:
        tree = parse(expr)
    except Exception as exc:  # the parser's own error type is not exported
        return [f"does not parse: {exc}"]
    known = known_metrics()
    problems: list[str] = []

    def labels_below(node: Any) -> set[str]:
        found: set[str] = set()

        def visit(child: Any) -> None:
            if isinstance(child, promql_parser.VectorSelector) and child.name in known:
                found.update(known[child.name])

        promql_parser.walk(node, visit)
        return found

    def check(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name not in known:
                problems.append(f"{node.name} is no metric the code or the exporter defines")
                return
            for matcher in node.matchers.matchers:
                if matcher.name not in known[node.name] | {"__name__"}:
                    problems.append(f"{node.name} has no label {matcher.name}")
        elif isinstance(node, promql_parser.AggregateExpr) and node.modifier is not None:
            if node.modifier.type == promql_parser.AggModifierType.By:
                missing = set(node.modifier.labels) - labels_below(node.expr)
                if missing:
                    problems.append(f"grouped by {sorted(missing)}, which its metrics lack")

    promql_parser.walk(tree, check)
    return problems


def metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)

    promql_parser.walk(parse(expr), visit)
    return names


def walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])


def dashboard(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and query variable of every dashboard."""
    found = []
    for path in DASHBOARDS:
        board = dashboard(path)
        for panel in walk_panels(board.get("panels") or []):
            for target in panel.get("targets") or []:
                found.append((f"{path.name}: {panel.get('title')}", target["expr"]))
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            inner = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", text.strip())
            assert inner, f"{path.name}: variable {variable['name']}: {text}"
            found.append((f"{path.name}: ${variable['name']}", inner[1]))
    return found


def rules() -> list[dict[str, Any]]:
    return [rule for group in files.load_yaml(RULES)["groups"] for rule in group["rules"]]


def test_there_is_a_dashboard() -> None:
    assert DASHBOARDS


@pytest.mark.parametrize(
    ("where", "expr"), dashboard_queries(), ids=[w for w, _ in dashboard_queries()]
)
def test_each_dashboard_query_uses_only_real_metrics_and_labels(where: str, expr: str) -> None:
    assert problems_of(expr) == []


@pytest.mark.parametrize("rule", rules(), ids=[r["alert"] for r in rules()])
def test_each_rule_uses_only_real_metrics_and_labels(rule: dict[str, Any]) -> None:
    assert problems_of(rule["expr"]) == []


def test_the_check_catches_a_metric_or_label_that_does_not_exist() -> None:
    assert problems_of("sum by (topic) (rate(pspx_events_publised_total[5m]))")
    assert problems_of("sum by (topic) (pspx_outbox_pending)"), "outbox pending has no topic"
    assert problems_of('pspx_http_requests_total{route_name="/"}')
    assert problems_of('kafka_consumergroup_lag{service="matching"}'), "the exporter has none"
    assert problems_of("sum by (topic) (rate(pspx_events_published_total[5m])")
    assert not problems_of("sum by (le) (rate(pspx_http_request_seconds_bucket[$__rate_interval]))")


def test_the_dashboards_show_what_operators_watch() -> None:
    used = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    missing = {subject for subject, metric in REQUIRED_ON_DASHBOARDS.items() if metric not in used}
    assert missing == set()


def test_every_panel_reads_a_provisioned_data_source() -> None:
    provisioned = files.load_yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")
    uids = {source["uid"] for source in provisioned["datasources"]}
    for path in DASHBOARDS:
        board = dashboard(path)
        ids = [panel["id"] for panel in walk_panels(board["panels"])]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
        for panel in walk_panels(board["panels"]):
            if panel["type"] == "row":
                continue
            for source in [
                panel.get("datasource"),
                *(t.get("datasource") for t in panel["targets"]),
            ]:
                assert source and source["uid"] in uids, f"{path.name}: {panel['title']}"
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{path.name}: {panel['title']}"


def test_grafana_loads_the_dashboards_from_where_compose_mounts_them() -> None:
    provider = files.load_yaml(GRAFANA / "provisioning" / "dashboards" / "psp-exchange.yml")
    (folder,) = [p["options"]["path"] for p in provider["providers"]]
    grafana = files.services()["grafana"]
    by_target = {m.target: m.source for m in files.mounts(grafana)}
    assert files.ROOT / by_target[folder] == GRAFANA / "dashboards"
    home = files.environment(grafana)["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(folder + "/") and (GRAFANA / "dashboards" / Path(home).name).is_file()
    for kind in ("datasources", "dashboards"):
        target = f"/etc/grafana/provisioning/{kind}"
        assert files.ROOT / by_target[target] == GRAFANA / "provisioning" / kind


def test_prometheus_scrapes_every_service_on_its_port() -> None:
    config = files.load_yaml(PROMETHEUS)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "pspx"]
    discovered = {name: sd["port"] for sd in job["dns_sd_configs"] for name in sd["names"]}
    registry_env = files.environment(files.services()["registry"])
    wanted = {
        spec.name: int(registry_env[f"PSPX_{spec.port_setting.upper()}"])
        for spec in manifest.SERVICES
    }
    assert discovered == wanted
    assert job.get("metrics_path", "/metrics") == "/metrics"
    relabel = job["relabel_configs"]
    assert {"source_labels": ["__meta_dns_name"], "target_label": "service"} in relabel


def test_prometheus_scrapes_the_kafka_exporter_that_compose_runs() -> None:
    config = files.load_yaml(PROMETHEUS)
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    assert KAFKA_EXPORTER_TARGET in targets
    assert files.services()["kafka-exporter"]["image"] == KAFKA_EXPORTER


def test_prometheus_loads_the_rules_from_where_compose_mounts_them() -> None:
    config = files.load_yaml(PROMETHEUS)
    prometheus = files.services()["prometheus"]
    by_target = {m.target: m.source for m in files.mounts(prometheus)}
    assert files.ROOT / by_target["/etc/prometheus/prometheus.yml"] == PROMETHEUS
    for rule_file in config["rule_files"]:
        assert files.ROOT / by_target[rule_file] == RULES


def test_the_service_down_alert_covers_every_service() -> None:
    (rule,) = [r for r in rules() if r["alert"] == "ServiceDown"]
    for name in manifest.names():
        assert f'service="{name}"' in rule["expr"], name
