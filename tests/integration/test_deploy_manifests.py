"""The deployment files, validated offline with the real tools CI runs (make validate-deploy).

docker/compose.yml through Debian's docker-compose (`config`: no Docker engine needed); the Kustomize overlays
in deploy/kubernetes/ rendered by kubectl, then kubernetes-validate --strict and checkov on the render, each
also shown to refuse a broken manifest; then what the tools do not check: every Deployment's probes,
resources and security context, the HPAs' and PDBs' targets, the NetworkPolicies' selectors (only Rasa reaches
the action servers, only the action servers reach the demo shop), Secrets referenced and never embedded, and the
Redis lock store behind more than one Rasa replica. The tools come from `make deploy-tools` (.venv-tools).
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from foundation import REPO

COMPOSE_FILE = REPO / "docker" / "compose.yml"
PRODUCTION_ENDPOINTS = REPO / "docker" / "endpoints.production.yml"
OVERLAYS = sorted(p for p in (REPO / "deploy" / "kubernetes" / "overlays").iterdir() if p.is_dir())
TOOLS_BIN = REPO / ".venv-tools" / "bin"
# The secrets docker/compose.yml requires: each `${NAME:?...}`, none with a default.
COMPOSE_SECRETS = {
    "ACTION_SERVER_TOKEN",
    "RASA_AUTH_TOKEN",
    "TRACKER_DB_PASSWORD",
    "REDIS_PASSWORD",
    "RABBITMQ_PASSWORD",
    "DEMOSHOP_API_KEY",
    "DEMOSHOP_DB_PASSWORD",
    "CONVERSATION_REF_SECRET",
    "AUDIT_DB_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "ANALYTICS_DB_PASSWORD",
    "REPORT_TOKEN",
}
# The Secrets the manifests reference; created in the namespace out of band, never rendered.
REFERENCED_SECRETS = {"rasa-secrets", "actions-secrets", "demoshop-secrets", "analytics-secrets"}


# --- tools --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tools() -> Path:
    """.venv-tools/bin with kubectl, kubernetes-validate and checkov, built by the project's own make target."""
    done = subprocess.run(
        ["make", "--no-print-directory", "deploy-tools"], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"make deploy-tools failed:\n{done.stdout}\n{done.stderr}"
    return TOOLS_BIN


@pytest.fixture(scope="module")
def docker_compose() -> str:
    """Debian's docker-compose (make system-deps installs it)."""
    path = shutil.which("docker-compose")
    assert path, "docker-compose not found: `make system-deps` installs Debian's docker-compose package"
    return path


def run(args: list[str | Path], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """A tool's run in the repository, its output kept for the assertion messages."""
    return subprocess.run([str(a) for a in args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)


# --- compose ------------------------------------------------------------------------------------------------


def compose_env(**values: str) -> dict[str, str]:
    """A bare environment (no .env, no operator's variables) with every compose secret set, then `values`."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    env.update({name: f"secret-{name.lower()}" for name in COMPOSE_SECRETS})
    env.update(values)
    return env


def compose_config(docker_compose: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` of docker/compose.yml: validates and interpolates it without a Docker engine."""
    return run([docker_compose, "-p", "larkspur", "-f", COMPOSE_FILE, "config"], env=env)


def without_comments(text: str) -> str:
    """A YAML file's text without its comment lines (which may quote `${NAME}`s as examples)."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def endpoint_variables() -> set[str]:
    """The ${VARIABLE}s docker/endpoints.production.yml makes Rasa read."""
    return set(re.findall(r"\$\{([A-Z0-9_]+)\}", without_comments(PRODUCTION_ENDPOINTS.read_text())))


def test_the_compose_file_requires_exactly_the_known_secrets_and_defaults_none():
    text = without_comments(COMPOSE_FILE.read_text())
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    assert required == COMPOSE_SECRETS
    defaulted = set(re.findall(r"\$\{([A-Z0-9_]+):?-", text))
    assert not {name for name in defaulted if re.search(r"PASSWORD|TOKEN|SECRET|KEY", name)}, defaulted


def test_compose_config_validates_with_the_secrets_set(docker_compose):
    done = compose_config(docker_compose, compose_env(RASA_REPLICAS="3"))
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert set(services) == {
        *("webchat", "rasa", "actions", "demoshop"),
        *("tracker-db", "shop-db", "audit-db", "redis", "rabbitmq"),
        "grafana",
        "prometheus",
        *("analytics", "analytics-db"),
    }
    assert services["rasa"]["deploy"]["replicas"] == 3 and services["actions"]["deploy"]["replicas"] == 2
    rasa = services["rasa"]["environment"]
    assert rasa["ACTION_SERVER_TOKEN"] == "secret-action_server_token"
    assert rasa["REDIS_HOST"] == "redis" and rasa["TRACKER_DB_HOST"] == "tracker-db"
    assert services["actions"]["environment"]["ACTIONS_HOST"] == "0.0.0.0"
    assert services["demoshop"]["environment"]["DEMOSHOP_DATABASE_URL"] == (
        "postgresql+psycopg2://demoshop:secret-demoshop_db_password@shop-db:5432/demoshop"
    )
    assert services["webchat"]["environment"]["RASA_UPSTREAM"] == "rasa:5005"
    # Only the web chat is published (Grafana on the host's loopback only); the action servers share no network
    # with the web chat, and Grafana none with the assistant's services.
    assert {name for name, service in services.items() if service.get("ports")} == {"webchat", "grafana", "analytics"}
    for loopback in ("grafana", "analytics"):  # the report page, like Grafana, on the host's loopback only
        ports = services[loopback]["ports"]
        assert all(str(p.get("host_ip") if isinstance(p, dict) else p).startswith("127.0.0.1") for p in ports), ports
    assert set(services["analytics-db"]["networks"]) == {"analytics"}
    assert set(services["grafana"]["networks"]) == {"monitoring"}
    assert not set(services["webchat"]["networks"]) & set(services["actions"]["networks"])
    assert not set(services["rasa"]["networks"]) & set(services["demoshop"]["networks"])
    # Optional secrets pass through by name: unset here, so they stay unset (no empty default).
    assert rasa["SLACK_BOT_TOKEN"] is None


@pytest.mark.parametrize("secret", sorted(COMPOSE_SECRETS))
def test_compose_config_fails_naming_an_unset_secret(docker_compose, secret):
    env = compose_env()
    del env[secret]
    done = compose_config(docker_compose, env)
    assert done.returncode != 0
    assert f"set {secret}," in done.stderr, done.stderr


# --- Kubernetes: render and validate ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tools, tmp_path_factory) -> dict[str, Path]:
    """Each overlay rendered by `kubectl kustomize`, one file per overlay in its own folder."""
    files = {}
    for overlay in OVERLAYS:
        done = run([tools / "kubectl", "kustomize", overlay])
        assert done.returncode == 0, done.stderr
        folder = tmp_path_factory.mktemp(overlay.name)
        files[overlay.name] = folder / "rendered.yaml"
        files[overlay.name].write_text(done.stdout)
    return files


@pytest.fixture(scope="module")
def production(rendered) -> list[dict]:
    """The production overlay's objects."""
    return [doc for doc in yaml.safe_load_all(rendered["production"].read_text()) if doc]


def kubernetes_validate(tools: Path, path: Path) -> subprocess.CompletedProcess[str]:
    """kubernetes-validate --strict (unknown fields are errors), against a fixed Kubernetes version."""
    return run([tools / "kubernetes-validate", "--strict", "--quiet", "--kubernetes-version", "1.33.0", path])


def checkov(tools: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """checkov's Kubernetes checks on a folder of manifests, asking no server for anything."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    args = [tools / "checkov", "--quiet", "--compact", "--skip-download", "--framework", "kubernetes"]
    return run([*args, "--directory", folder], env=env)


def test_there_is_a_production_overlay():
    assert "production" in [overlay.name for overlay in OVERLAYS]


def test_every_overlay_passes_kubernetes_validate_strict(tools, rendered):
    for name, path in rendered.items():
        done = kubernetes_validate(tools, path)
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"


def test_kubernetes_validate_strict_refuses_an_unknown_field(tools, production, tmp_path):
    deployment = copy.deepcopy(next(doc for doc in production if doc["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    done = kubernetes_validate(tools, broken)
    assert done.returncode != 0 and "livenessProbes" in done.stdout + done.stderr


def test_every_overlay_passes_checkov(tools, rendered):
    for name, path in rendered.items():
        done = checkov(tools, path.parent)
        assert done.returncode == 0, f"{name}:\n{done.stdout}\n{done.stderr}"
        assert "Failed checks: 0" in done.stdout


def test_checkov_refuses_a_container_running_with_default_privileges(tools, production, tmp_path):
    deployment = copy.deepcopy(next(doc for doc in production if doc["kind"] == "Deployment"))
    del deployment["spec"]["template"]["spec"]["securityContext"]
    del deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(deployment))
    done = checkov(tools, tmp_path)
    assert done.returncode != 0
    assert "CKV_K8S_20" in done.stdout and "CKV_K8S_22" in done.stdout  # privilege escalation, writable root


# --- Kubernetes: what the tools do not check ----------------------------------------------------------------


def of_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    """The objects of one kind, by name."""
    return {doc["metadata"]["name"]: doc for doc in objects if doc["kind"] == kind}


def pod_labels(objects: list[dict]) -> dict[str, dict[str, str]]:
    """Each Deployment's pod template labels, by Deployment name."""
    return {name: d["spec"]["template"]["metadata"]["labels"] for name, d in of_kind(objects, "Deployment").items()}


def selected(match_labels: dict[str, str], objects: list[dict]) -> set[str]:
    """The Deployments whose pods a label selector picks."""
    return {
        name
        for name, labels in pod_labels(objects).items()
        if all(labels.get(key) == value for key, value in match_labels.items())
    }


def test_every_deployment_has_probes_resources_and_runs_locked_down(production):
    deployments = of_kind(production, "Deployment")
    assert set(deployments) == {"rasa", "actions", "demoshop", "webchat", "analytics"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            where = f"{name}/{container['name']}"
            assert container["readinessProbe"] and container["livenessProbe"], where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), where
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True and security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True and security["capabilities"]["drop"] == ["ALL"], where
            image, _, tag = container["image"].rpartition(":")
            assert image and re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{where}: image tag not pinned: {container['image']}"
            probe_ports = {container[p]["httpGet"]["port"] for p in ("readinessProbe", "livenessProbe")}
            assert probe_ports <= {port["name"] for port in container["ports"]}, where


def test_the_hpas_and_pdbs_target_what_exists(production):
    deployments = of_kind(production, "Deployment")
    hpas = of_kind(production, "HorizontalPodAutoscaler")
    assert set(hpas) == {"rasa", "actions"}
    for name, hpa in hpas.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments, name
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], name
    for name, pdb in of_kind(production, "PodDisruptionBudget").items():
        assert selected(pdb["spec"]["selector"]["matchLabels"], production) == {name}, name
    assert set(of_kind(production, "PodDisruptionBudget")) == set(deployments)
    for name, service in of_kind(production, "Service").items():
        assert selected(service["spec"]["selector"], production) == {name}, name


def allowed_sources(policy_objects: list[dict], objects: list[dict], target: str, port: int) -> set[str]:
    """The Deployments whose pods the NetworkPolicies let reach `target`'s pods on `port` (`*`: anything)."""
    sources: set[str] = set()
    for policy in policy_objects:
        if target not in selected(policy["spec"]["podSelector"].get("matchLabels", {}), objects):
            continue
        for rule in policy["spec"].get("ingress", []):
            if port not in [p["port"] for p in rule.get("ports", [])]:
                continue
            if not rule.get("from"):
                sources.add("*")
            for peer in rule.get("from", []):
                if "namespaceSelector" in peer or "ipBlock" in peer:
                    sources.add("*other namespaces*")
                else:
                    sources |= selected(peer["podSelector"]["matchLabels"], objects)
    return sources


def test_network_policies_let_only_rasa_reach_the_actions_and_only_the_actions_reach_the_shop(production):
    policies = list(of_kind(production, "NetworkPolicy").values())
    default_deny = of_kind(production, "NetworkPolicy")["default-deny-all"]["spec"]
    assert default_deny["podSelector"] == {} and default_deny["policyTypes"] == ["Ingress", "Egress"]
    for policy in policies:
        labels = policy["spec"]["podSelector"].get("matchLabels")
        assert labels is None or selected(labels, production), f"{policy['metadata']['name']} selects no pod"
        for rule in policy["spec"].get("ingress", []) + policy["spec"].get("egress", []):
            for peer in rule.get("from", []) + rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    assert selected(peer["podSelector"]["matchLabels"], production), policy["metadata"]["name"]
    assert allowed_sources(policies, production, "actions", 5055) == {"rasa"}
    assert allowed_sources(policies, production, "demoshop", 8081) == {"actions"}
    assert allowed_sources(policies, production, "rasa", 5005) == {"webchat"}
    assert allowed_sources(policies, production, "webchat", 8080) == {"*"}


def test_secrets_are_referenced_and_never_embedded(production):
    assert not of_kind(production, "Secret")
    for name, deployment in of_kind(production, "Deployment").items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                if re.search(r"PASSWORD|TOKEN|SECRET|API_KEY|DATABASE_URL", variable["name"]):
                    assert "value" not in variable, f"{name}: {variable['name']} has a literal value"
                    assert variable["valueFrom"]["secretKeyRef"]["name"] in REFERENCED_SECRETS, name


def container_environment(deployment: dict, objects: list[dict]) -> set[str]:
    """The names of the variables a Deployment's first container gets: its env and its ConfigMaps' keys."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    config_maps = of_kind(objects, "ConfigMap")
    names = {variable["name"] for variable in container.get("env", [])}
    for source in container.get("envFrom", []):
        names |= set(config_maps[source["configMapRef"]["name"]]["data"])
    return names


def test_several_rasa_replicas_share_the_redis_lock_store_and_get_every_endpoint_variable(production):
    rasa = of_kind(production, "Deployment")["rasa"]
    hpa = of_kind(production, "HorizontalPodAutoscaler")["rasa"]
    assert rasa["spec"]["replicas"] > 1 and hpa["spec"]["maxReplicas"] > 1
    container = rasa["spec"]["template"]["spec"]["containers"][0]
    config_map = of_kind(production, "ConfigMap")[container["envFrom"][0]["configMapRef"]["name"]]
    assert config_map["data"]["RASA_ENDPOINTS"] == "docker/endpoints.production.yml"
    endpoints = yaml.safe_load(PRODUCTION_ENDPOINTS.read_text())
    assert endpoints["lock_store"]["type"] == "conversation_stores.lock_store.RedisTicketLockStore"
    assert endpoints["tracker_store"]["dialect"] == "postgresql" and endpoints["event_broker"]["type"] == "pika"
    wanted = endpoint_variables()
    assert wanted <= container_environment(rasa, production), wanted - container_environment(rasa, production)


def test_the_production_endpoints_send_the_action_servers_token(monkeypatch):
    """Rasa's own reader substitutes the token into the header (a quoted value would be sent as written)."""
    from rasa.core.utils import AvailableEndpoints

    wanted = endpoint_variables()
    for name in wanted:
        monkeypatch.setenv(name, "5672" if name.endswith("_PORT") else f"value-of-{name.lower()}")
    endpoints = AvailableEndpoints.read_endpoints(str(PRODUCTION_ENDPOINTS))
    assert endpoints.action.headers == {"Authorization": "Bearer value-of-action_server_token"}
    assert endpoints.event_broker.type == "pika" and endpoints.event_broker.url == "value-of-rabbitmq_host"
    assert endpoints.event_broker.kwargs["queues"] == ["larkspur_events"]
    monkeypatch.delenv("RABBITMQ_PASSWORD")
    with pytest.raises(Exception, match="RABBITMQ_PASSWORD"):
        AvailableEndpoints.read_endpoints(str(PRODUCTION_ENDPOINTS))
