"""docker/analytics.Dockerfile holds what `python -m analytics` imports: every repository module of its import
closure is copied, every library is installed, and Rasa (which rasa_runtime/metrics.py imports only inside
functions) is neither needed nor installed: the analytics modules import with Rasa hidden."""

from __future__ import annotations

import subprocess
import sys

from tests.unit.test_dockerfiles import (
    REPO,
    closure,
    distributions,
    entry_modules,
    image_files,
    installed,
    module_file,
)

DOCKERFILE = REPO / "docker" / "analytics.Dockerfile"


def test_the_image_holds_every_module_and_library_the_analytics_process_imports():
    entries = entry_modules(DOCKERFILE)
    assert "analytics" in entries and "analytics.server" in entries
    in_image = {file for file in image_files(DOCKERFILE).values() if file is not None}
    files, third_party = closure(entries)
    assert {module_file(module) for module in entries} <= files
    missing = sorted(file.relative_to(REPO).as_posix() for file in files - in_image)
    assert not missing, f"the analytics image lacks {missing}"
    libraries = installed(DOCKERFILE)
    provided = {top for name in libraries if name in distributions() for top in distributions()[name].top_level}
    assert third_party - provided == {"rasa"}, third_party - provided
    assert "rasa" not in libraries


def test_the_analytics_modules_import_and_render_without_rasa():
    script = (
        "import sys; sys.modules['rasa'] = None\n"
        "import analytics.__main__, analytics.server, analytics.page, analytics.rabbitmq_consumer\n"
        "from analytics.report import render; from analytics.summary import Summary\n"
        "assert 'No conversations yet' in render(Summary(), source='x', chart_format='png')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
