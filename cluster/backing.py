"""The cluster's backing services from Debian's packages: PostgreSQL, Redis, RabbitMQ (with its own epmd), nginx.

Each listens on 127.0.0.1 on the port the cluster gives it and keeps its data and logs under the cluster's
directory (var/cluster/), so it never meets the packages' own services (which apt does not start here).
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from cluster.members import Member, amqp_probe, http_probe, redis_probe, tcp_probe
from foundation.local_servers import _as_db_user, _postgres_bin, redis_command

# The tracker store, the demo shop, the audit trail, the analytics store.
DATABASES = ("assistant", "demoshop", "audit", "analytics")
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
NGINX = "/usr/sbin/nginx"


def postgres_member(root: Path, port: int) -> Member:
    """PostgreSQL with the cluster's databases, trusted on loopback; its data in `root` (kept on restart)."""
    data = root / "pgdata"

    def prepare() -> None:
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        if (data / "PG_VERSION").exists():
            return
        init = subprocess.run(
            _as_db_user([_postgres_bin("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]),
            capture_output=True,
            text=True,
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr or init.stdout}")

    def create_databases() -> None:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            for name in DATABASES:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if not cursor.fetchone():
                    cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()

    def accepting() -> bool:
        check = [_postgres_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(port)]
        return subprocess.run(check, capture_output=True).returncode == 0

    command = _as_db_user(
        [
            _postgres_bin("postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(root),
            "-c",
            "max_connections=300",
        ]
    )
    return Member("postgres", "postgres", command, port, accepting, prepare=prepare, after_ready=create_databases)


def postgres_url(port: int, database: str) -> str:
    """The SQLAlchemy URL of one of the cluster's databases."""
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{database}"


def redis_member(root: Path, port: int) -> Member:
    """Redis without persistence (locks only live as long as their turn), on loopback."""
    command = redis_command(port, root)
    return Member(
        "redis", "redis", command, port, redis_probe(port), prepare=lambda: root.mkdir(parents=True, exist_ok=True)
    )


def rabbitmq_members(root: Path, ports: dict[str, int], username: str, password: str) -> list[Member]:
    """epmd and RabbitMQ, both ours: a private node name, data and logs in `root`, loopback ports only.

    Erlang's port mapper is started first, in the foreground on its own port (ERL_EPMD_PORT), so the broker does
    not spawn a daemon of its own that would outlive it; the broker's user and password come from a config
    file written into `root`, read on its first start.
    """
    if not Path(RABBITMQ_SERVER).exists():
        raise RuntimeError("rabbitmq-server is missing: run `make system-deps` (apt-get install rabbitmq-server)")
    epmd = shutil.which("epmd") or "/usr/bin/epmd"
    erl_env = {"ERL_EPMD_PORT": str(ports["epmd"]), "ERL_EPMD_ADDRESS": "127.0.0.1"}
    config = root / "rabbitmq.conf"

    def prepare() -> None:
        root.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"listeners.tcp.1 = 127.0.0.1:{ports['rabbitmq']}\n"
            f"default_user = {username}\ndefault_pass = {password}\n"
            "loopback_users = none\n"
        )
        os.chmod(config, 0o600)
        (root / "enabled_plugins").write_text("[].\n")

    env = {
        **erl_env,
        "HOME": str(root),  # the Erlang cookie lives here
        "RABBITMQ_NODENAME": f"larkspur-{ports['rabbitmq']}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(ports["rabbitmq"]),
        "RABBITMQ_DIST_PORT": str(ports["rabbitmq-dist"]),
        "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
        "RABBITMQ_LOG_BASE": str(root / "log"),
        "RABBITMQ_CONFIG_FILE": str(config),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "ERL_CRASH_DUMP": str(root / "erl_crash.dump"),  # not the working directory (the repository)
    }
    return [
        Member(
            "epmd",
            "epmd",
            [epmd, "-port", str(ports["epmd"]), "-address", "127.0.0.1"],
            ports["epmd"],
            tcp_probe(ports["epmd"]),
            env=erl_env,
        ),
        Member(
            "rabbitmq",
            "rabbitmq",
            [RABBITMQ_SERVER],
            ports["rabbitmq"],
            amqp_probe(ports["rabbitmq"]),
            env=env,
            prepare=prepare,
            startup_seconds=120,
        ),
    ]


def nginx_main_conf(root: Path, site: Path) -> str:
    """nginx's main file for the cluster: in the foreground, pid, logs and temp paths in `root`, the site included."""
    user = ""
    if os.geteuid() == 0:  # a root master would switch its workers to nobody, who cannot read var/
        user = f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
    temp = "\n".join(
        f"    {name}_temp_path {root / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}\ndaemon off;\nworker_processes 1;\npid {root / 'nginx.pid'};\nerror_log {root / 'error.log'} notice;\n"
        f"events {{ worker_connections 1024; }}\nhttp {{\n{temp}\n    include {site};\n}}\n"
    )


def render_site(
    template: str,
    *,
    listen: int,
    rasa: list[int],
    actions_listen: int,
    actions: list[int],
    down: frozenset[int] = frozenset(),
) -> str:
    """docker/nginx/cluster.conf with this cluster's ports: its placeholders (outside comments) replaced, one
    `server` line a replica."""
    values = {
        "${CLUSTER_LISTEN}": f"127.0.0.1:{listen}",
        "${ACTIONS_LISTEN}": f"127.0.0.1:{actions_listen}",
        "${RASA_SERVERS}": "\n    ".join(_server(port, 5, port in down) for port in rasa),
        "${ACTION_SERVERS}": "\n    ".join(_server(port, 2, port in down) for port in actions),
    }
    lines = template.splitlines(keepends=True)
    for placeholder, value in values.items():
        used = [i for i, line in enumerate(lines) if placeholder in line and not line.lstrip().startswith("#")]
        if not used:
            raise ValueError(f"docker/nginx/cluster.conf has no {placeholder}")
        for i in used:
            lines[i] = lines[i].replace(placeholder, value)
    return "".join(lines)


def _server(port: int, fail_timeout_s: int, down: bool) -> str:
    # A replica that refuses a connection or fails is skipped for fail_timeout; one marked down is not used at all.
    return f"server 127.0.0.1:{port} max_fails=1 fail_timeout={fail_timeout_s}s{' down' if down else ''};"


def nginx_member(
    root: Path, template: Path, listen: int, rasa: list[int], actions_listen: int, actions: list[int]
) -> Member:
    """nginx in front of the Rasa replicas (port `listen`) and of the action servers (`actions_listen`).

    Its `routing_down` holds the ports of replicas that are starting again: each `prepare` renders them `down`,
    and the runner reloads nginx (SIGHUP) when that set changes. A Rasa replica accepts connections long before
    its model is loaded; without this nginx would send turns to it and wait.
    """
    site = root / "cluster.conf"
    main = root / "nginx.conf"
    down: set[int] = set()

    def prepare() -> None:
        root.mkdir(parents=True, exist_ok=True)
        site.write_text(
            render_site(
                template.read_text(),
                listen=listen,
                rasa=rasa,
                actions_listen=actions_listen,
                actions=actions,
                down=frozenset(down),
            )
        )
        main.write_text(nginx_main_conf(root, site))

    nginx = shutil.which("nginx") or NGINX
    return Member(
        "nginx",
        "nginx",
        [nginx, "-p", str(root), "-c", str(main), "-e", str(root / "error.log")],
        listen,
        http_probe(f"http://127.0.0.1:{listen}/health"),
        url=f"http://127.0.0.1:{listen}",
        prepare=prepare,
        routing_down=down,
    )
