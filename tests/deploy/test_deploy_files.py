"""deploy/: Docker cannot build here, so every file is parsed and held to what the app really is."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import (
    DEPLOY,
    SERVE_PORT,
    check_environment,
    load_all_yaml,
    load_yaml,
    metric_names,
    settings_from,
)
from tests.integration.monitoring.conftest import promtool

SECRET = "x" * 48  # what an operator puts where the files say ${...:?} or change-me
# The command every Shelf container serves with (in a container, every interface is the pod's own).
SERVE = ["serve", "--host", "0.0.0.0", "--port", str(SERVE_PORT)]  # noqa: S104


# --- Dockerfile ---------------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """``[[(INSTRUCTION, arguments), ...] per stage]``, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def test_the_image_is_multi_stage_small_and_runs_as_a_non_root_user() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a build stage and a runtime stage"
    runtime = stages[-1]
    assert "slim" in runtime[0][1] or "${PYTHON_IMAGE}" in runtime[0][1]
    assert "slim" in (DEPLOY / "Dockerfile").read_text().split("ARG PYTHON_IMAGE=")[1].split()[0]
    users = [arguments for instruction, arguments in runtime if instruction == "USER"]
    assert users, "the runtime stage must switch to an unprivileged user"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), user
    assert int(user) >= 1000
    copies = [arguments for instruction, arguments in runtime if instruction == "COPY"]
    assert copies == ["--from=build /opt/shelf /opt/shelf"], "the runtime stage copies only the virtualenv"
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert ignore[ignore.index("*") if "*" in ignore else 0] == "*", "the build context is an allow-list"


def test_the_health_check_calls_a_real_route_on_the_served_port(routes: set[str]) -> None:
    runtime = dict(dockerfile_stages()[-1])
    check = runtime["HEALTHCHECK"]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*?)'", check)
    assert url, check
    assert int(url.group(1)) == SERVE_PORT
    assert url.group(2) == "/healthz"
    assert url.group(2) in routes
    assert int(runtime["EXPOSE"]) == SERVE_PORT
    assert json.loads(runtime["ENTRYPOINT"]) == ["shelf"]
    assert json.loads(runtime["CMD"]) == SERVE


def test_the_cli_commands_the_deploy_files_run_exist() -> None:
    for command in (["serve", "--help"], ["db", "upgrade", "--help"]):
        result = subprocess.run(  # noqa: S603 - our own CLI
            [sys.executable, "-m", "shelf", *command], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr


# --- compose.yaml -------------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    document: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")
    return document


def interpolated(value: str) -> str:
    """Compose's ${VAR:?message} and ${VAR:-default}, as an operator's environment would fill them."""
    value = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z_]+(:\?[^}]*)?\}", SECRET, value)


def shelf_services(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in document["services"].items()
        if str(service.get("image", "")).startswith("shelf:")
    }


def test_compose_runs_two_replicas_after_a_one_shot_migration() -> None:
    document = compose()
    services = document["services"]
    assert {"postgres", "redis", "nginx", "prometheus", "grafana", "migrate"} <= services.keys()
    shelves = shelf_services(document)
    replicas = {name: s for name, s in shelves.items() if s["command"][0] == "serve"}
    assert len(replicas) >= 2
    assert shelves["migrate"]["command"] == ["db", "upgrade"]
    assert shelves["migrate"]["restart"] == "no"
    for name, replica in replicas.items():
        assert replica["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert replica["command"] == SERVE
        assert replica["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert (DEPLOY.parent / replica["build"]["dockerfile"]).is_file()
        assert replica["stop_grace_period"] == "30s"  # over uvicorn's 25 s drain
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name


def test_compose_environment_is_made_of_real_settings_that_validate(routes: set[str]) -> None:
    for name, service in shelf_services(compose()).items():
        environment = {key: interpolated(str(value)) for key, value in service["environment"].items()}
        check_environment(environment, f"compose.yaml {name}")
        settings = settings_from(environment)
        assert settings.env == "production"
        assert settings.database_backend == "postgresql"
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.metrics_token is not None
        test = service.get("healthcheck", {}).get("test")
        if test and not service["healthcheck"].get("disable"):
            url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*?)'", " ".join(test))
            assert url, test
            assert int(url.group(1)) == SERVE_PORT
            assert url.group(2) in routes, f"{name}'s health check calls {url.group(2)}, no route"


def test_nginx_balances_over_exactly_the_replicas() -> None:
    document = compose()
    replicas = {name for name, s in shelf_services(document).items() if s["command"][0] == "serve"}
    nginx = document["services"]["nginx"]
    mount = next(volume for volume in nginx["volumes"] if volume.endswith(":/etc/nginx/nginx.conf:ro"))
    conf = (DEPLOY / mount.split(":")[0]).read_text()
    upstream = re.search(r"upstream shelf \{(.*?)\}", conf, re.S)
    assert upstream
    servers = re.findall(r"server ([\w.-]+):(\d+)", upstream.group(1))
    assert {host for host, _ in servers} == replicas
    assert {int(port) for _, port in servers} == {SERVE_PORT}
    listen = re.search(r"listen (\d+);", conf)
    assert listen
    assert f"{listen.group(1)}:{listen.group(1)}" in nginx["ports"]
    assert "proxy_pass http://shelf;" in conf
    assert "X-Forwarded-For" in conf  # rate limits key on the client address
    assert set(nginx["depends_on"]) == replicas


def test_prometheus_scrapes_every_replica_with_the_metrics_token() -> None:
    document = compose()
    replicas = {name for name, s in shelf_services(document).items() if s["command"][0] == "serve"}
    prometheus = document["services"]["prometheus"]
    mounts = {
        target.removesuffix(":ro"): DEPLOY / source
        for source, target in (v.split(":", 1) for v in prometheus["volumes"] if v.startswith("./"))
    }
    config = load_yaml(mounts["/etc/prometheus/prometheus.yml"])
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    targets = {target for group in job["static_configs"] for target in group["targets"]}
    assert targets == {f"{name}:{SERVE_PORT}" for name in replicas}
    assert job["authorization"]["credentials_file"] == "/run/secrets/metrics_token"
    assert "metrics_token" in prometheus["secrets"]
    assert document["secrets"]["metrics_token"] == {"environment": "SHELF_METRICS_TOKEN"}
    for rule_file in config["rule_files"]:
        assert rule_file in mounts, rule_file
        assert mounts[rule_file].is_file(), rule_file


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    document = compose()
    grafana = document["services"]["grafana"]
    mounts = {
        target.removesuffix(":ro"): DEPLOY / source
        for source, target in (v.split(":", 1) for v in grafana["volumes"] if v.startswith("./"))
    }
    provisioning = mounts["/etc/grafana/provisioning"]
    (datasource,) = load_yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    assert "9090:9090" in document["services"]["prometheus"]["ports"]
    (provider,) = load_yaml(provisioning / "dashboards" / "shelf.yaml")["providers"]
    dashboards = mounts[provider["options"]["path"]]
    dashboard = json.loads((dashboards / "shelf.json").read_text())
    uids = {target["datasource"]["uid"] for panel in dashboard["panels"] for target in panel["targets"]}
    assert uids == {datasource["uid"]}
    assert grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].startswith(
        provider["options"]["path"]
    )


# --- Kubernetes -----------------------------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    """Every object under deploy/k8s, by ``Kind/name``."""
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in load_all_yaml(path):
            assert {"apiVersion", "kind"} <= document.keys(), path
            key = f"{document['kind']}/{document.get('metadata', {}).get('name', '')}"
            objects[key] = document
    return objects


def test_every_manifest_parses_and_kustomization_lists_them() -> None:
    objects = manifests()
    expected = {
        "Deployment/shelf",
        "Service/shelf",
        "Ingress/shelf",
        "HorizontalPodAutoscaler/shelf",
        "PodDisruptionBudget/shelf",
        "Job/shelf-migrate",
        "ConfigMap/shelf",
        "Secret/shelf",
    }
    assert expected <= objects.keys()
    kustomization = objects["Kustomization/"]
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).is_file(), resource
    assert "migrations-job.yaml" not in kustomization["resources"]  # run per release, before rollout


def test_the_deployment_probes_real_routes_on_its_port_and_drains_gracefully(routes: set[str]) -> None:
    objects = manifests()
    deployment = objects["Deployment/shelf"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"http": SERVE_PORT}
    assert container["args"] == SERVE
    probes = {
        kind: container[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["readinessProbe"]["path"] == "/readyz"
    for kind, probe in probes.items():
        assert probe["path"] in routes, f"{kind} calls {probe['path']}, which no route answers"
        assert probe["port"] in ("http", SERVE_PORT), kind
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + 25  # uvicorn's graceful drain
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["requests"]["memory"]
    assert container["resources"]["limits"]["memory"]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == SERVE_PORT
    assert annotations["prometheus.io/path"] in routes


def test_pods_run_as_the_images_non_root_user() -> None:
    image_user = int(dict(dockerfile_stages()[-1])["USER"].split(":")[0])
    for key in ("Deployment/shelf", "Job/shelf-migrate"):
        pod = manifests()[key]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, key
        assert pod["securityContext"]["runAsUser"] == image_user, key
        for container in pod["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False, key
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], key


def test_service_ingress_autoscaler_and_budget_point_at_the_deployment() -> None:
    objects = manifests()
    deployment = objects["Deployment/shelf"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = objects["Service/shelf"]
    assert service["spec"]["selector"].items() <= labels.items()
    (service_port,) = service["spec"]["ports"]
    assert service_port["targetPort"] in ("http", SERVE_PORT)
    for rule in objects["Ingress/shelf"]["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert (
                backend["port"].get("name") == service_port["name"]
                or backend["port"].get("number") == service_port["port"]
            )
    hpa = objects["HorizontalPodAutoscaler/shelf"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shelf"}
    assert hpa["minReplicas"] >= 2
    assert hpa["maxReplicas"] > hpa["minReplicas"]
    pdb = objects["PodDisruptionBudget/shelf"]["spec"]
    assert pdb["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["minAvailable"] < hpa["minReplicas"]  # a node can always be drained


def test_configuration_is_real_settings_and_the_migrations_job_shares_it() -> None:
    objects = manifests()
    config = objects["ConfigMap/shelf"]["data"]
    secret = objects["Secret/shelf"]["stringData"]
    check_environment(config | secret, "deploy/k8s")
    settings = settings_from(config | secret)
    assert settings.env == "production"
    assert settings.database_backend == "postgresql"
    deployment = objects["Deployment/shelf"]["spec"]["template"]["spec"]["containers"][0]
    job = objects["Job/shelf-migrate"]["spec"]["template"]["spec"]
    (migrate,) = job["containers"]
    assert migrate["args"] == ["db", "upgrade"]
    assert migrate["image"] == deployment["image"]
    assert migrate["envFrom"] == deployment["envFrom"]
    assert job["restartPolicy"] == "Never"
    referenced = {
        f"ConfigMap/{e['configMapRef']['name']}" for e in deployment["envFrom"] if "configMapRef" in e
    }
    referenced |= {f"Secret/{e['secretRef']['name']}" for e in deployment["envFrom"] if "secretRef" in e}
    assert referenced <= objects.keys()


# --- Alert rules and the dashboard, against a real /metrics -------------------------------------------------


def used_metrics(expression: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expression)
    return set(re.findall(r"\b(shelf_[a-z0-9_]+)\b", without_strings))


def recorded(expression: str) -> set[str]:
    return set(re.findall(r"\b(shelf:[a-z0-9_:]+)\b", expression))


def test_alert_rules_pass_promtool_and_use_only_exported_metrics(exposition: str) -> None:
    path = DEPLOY / "prometheus" / "alerts.yaml"
    result = subprocess.run(  # noqa: S603 - a fixed tool with fixed arguments
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    exported = metric_names(exposition)
    rules = [rule for group in load_yaml(path)["groups"] for rule in group["rules"]]
    records = {rule["record"] for rule in rules if "record" in rule}
    alerts = [rule for rule in rules if "alert" in rule]
    assert {"ShelfErrorBudgetBurnFast", "ShelfLatencyBudgetBurnFast", "ShelfInstanceDown"} <= {
        a["alert"] for a in alerts
    }
    for rule in rules:
        missing = used_metrics(rule["expr"]) - exported
        assert not missing, f"{rule.get('record') or rule.get('alert')} uses {missing}, which /metrics lacks"
        assert recorded(rule["expr"]) - {rule.get("record")} <= records
    # Multiwindow: every burn-rate alert compares a long and a short window.
    for alert in alerts:
        if "Burn" in alert["alert"]:
            windows = re.findall(r"ratio_rate(\d+[mhd])", alert["expr"])
            assert len(set(windows)) == 2, alert["alert"]


def test_every_dashboard_query_parses_and_uses_only_exported_metrics(exposition: str, tmp_path: Path) -> None:
    exported = metric_names(exposition)
    expressions: list[str] = []
    for path in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            expressions.extend(target["expr"] for target in panel["targets"])
        expressions.extend(
            variable["definition"].removeprefix("label_values(").split(",")[0]
            for variable in dashboard["templating"]["list"]
        )
    assert expressions
    used: set[str] = set()
    for expression in expressions:
        used |= used_metrics(expression)
    assert not used - exported, f"the dashboard queries {sorted(used - exported)}, which /metrics lacks"
    # Let promtool parse each query, with Grafana's variables filled in as Grafana would.
    rules = [
        {
            "record": f"dashboard:query_{index}:check",
            "expr": e.replace("$__rate_interval", "5m").replace("$instance", ".*"),
        }
        for index, e in enumerate(expressions)
        if not e.startswith("shelf_build_info") or "(" in e
    ]
    check = tmp_path / "dashboard-queries.yaml"
    check.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(  # noqa: S603 - a fixed tool with fixed arguments
        [promtool(), "check", "rules", str(check)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", [".github/workflows/ci.yml"])
def test_ci_runs_the_same_make_test_and_builds_the_image(workflow: str) -> None:
    document = load_yaml(DEPLOY.parent / workflow)
    jobs = document["jobs"]
    steps = [step.get("run", "") for job in jobs.values() for step in job["steps"]]
    assert any("bash .ci/run" in step for step in steps), "CI must run what .ci/run runs (make test)"
    assert "make test" in (DEPLOY.parent / ".ci" / "run").read_text()
    release = next(
        job for job in jobs.values() if any("deploy/Dockerfile" in str(step) for step in job["steps"])
    )
    assert release.get("needs"), "the image is built only after the tests pass"
