"""The knobs of `make run-cluster`, read once by the cluster's runner (see .env.example, "run-cluster")."""

from __future__ import annotations

import os
from typing import ClassVar

from pydantic import Field, conint

from foundation import REPO
from foundation.settings import Port, ProcessSettings

# Where every internal process listens, as offsets from CLUSTER_INTERNAL_PORT (unusual ports, loopback only).
OFFSETS = {
    "postgres": 0,
    "redis": 1,
    "rabbitmq": 2,
    "epmd": 3,
    "rabbitmq-dist": 4,
    "demoshop": 5,
    "actions-balancer": 6,
    "shop-gate": 7,
    "actions-gate": 8,
    "demoshop-metrics": 9,
    "actions": 10,  # actions-1 at +10, actions-2 at +11, ...
    "actions-metrics": 30,
    "rasa": 50,  # rasa-1 at +50, ...
    "rasa-metrics": 70,  # rasa-1's /metrics at +70, ...
    "analytics": 90,  # the analytics consumer's report page and /health
    "analytics-metrics": 91,  # its /metrics
}
MAX_REPLICAS = 20


class ClusterSettings(ProcessSettings):
    """How many of each process `make run-cluster` starts and where; every address is 127.0.0.1."""

    HOST: ClassVar[str] = "127.0.0.1"

    port: Port = Field(8000, env="CLUSTER_PORT")
    internal_port: Port = Field(18100, env="CLUSTER_INTERNAL_PORT")
    rasa_replicas: conint(ge=1, le=MAX_REPLICAS) = Field(os.cpu_count() or 1, env="CLUSTER_RASA_REPLICAS")  # type: ignore[valid-type]
    action_servers: conint(ge=1, le=MAX_REPLICAS) = Field(2, env="CLUSTER_ACTION_SERVERS")  # type: ignore[valid-type]
    # How long a conversation's lock outlives a replica that died holding it (Rasa's TICKET_LOCK_LIFETIME): the
    # turn nginx retries on another replica waits that long at most.
    lock_lifetime: conint(ge=1) = Field(60, env="CLUSTER_LOCK_LIFETIME")  # type: ignore[valid-type]
    # on: a fault gate (chaos/fault_gate.py) in front of the demo shop and of the action servers (make chaos).
    fault_gates: bool = Field(False, env="CLUSTER_FAULT_GATES")
    rate_limits: str = Field("on", env="RATE_LIMITS")
    model: str = Field(str(REPO / "models" / "larkspur.tar.gz"), env="RASA_MODEL")
    rasa_auth_token: str = Field("", env="RASA_AUTH_TOKEN")

    @property
    def host(self) -> str:
        return self.HOST

    def internal(self, name: str, index: int = 0) -> int:
        """The port of an internal process (`index` counts replicas from 0)."""
        return self.internal_port + OFFSETS[name] + index

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"
