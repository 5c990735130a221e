"""Benchmarks of the Larkspur assistant: `python -m bench.serve`, `python -m bench.nlu`, `python -m bench.train`.

Each module does one job so the pure parts (statistics, conversation scripts, the result schema) can be
unit-tested without servers: see tests/unit/test_bench_*.py. Results go to results/.
"""

import os

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
