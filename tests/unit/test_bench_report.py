"""The serving benchmark's result document: schema, target verdicts and replica arithmetic, without servers."""

import pytest

from bench import loadgen, report
from bench.loadgen import LevelResult, check_loopback


def _level(concurrency, msgs_per_s, p95, cores, rss=400.0, backend=None):
    result = LevelResult(
        concurrency=concurrency,
        conversations=2 * concurrency,
        messages=int(msgs_per_s * 10),
        latencies_s=[],
        wall_s=10.0,
    )
    latency = {"p50_ms": p95 / 2, "p95_ms": p95, "p99_ms": p95 * 1.2, "mean_ms": p95 / 2, "max_ms": p95 * 2}
    samples = {
        "rasa": {"cpu_seconds": cores * 10, "cores_used": cores, "peak_rss_mb_per_process": [rss, rss]},
        "actions": {"cpu_seconds": 2.0, "cores_used": 0.2, "peak_rss_mb_per_process": [150.0]},
    }
    return report.level_entry(result, latency, samples, backend)


def _document(ours_levels, stock_levels):
    ours = {"replicas": 2, "startup_s": [12.0, 14.0], "levels": ours_levels}
    stock = {"replicas": 1, "startup_s": [50.0], "levels": stock_levels}
    return {
        "schema": report.SCHEMA,
        "provisional": True,
        "machine": {},
        "settings": {},
        "assistants": {"larkspur": ours, "stock": stock},
        "targets": report.verdicts(ours, stock),
        "capacity": report.capacity(ours),
    }


def test_verdicts_and_schema():
    ours = [_level(1, 40, 20.0, 0.5, backend={"ms_per_backend_turn": 6.0}), _level(32, 160, 250.0, 1.8)]
    stock = [_level(1, 15, 80.0, 0.9), _level(32, 18, 2000.0, 1.0)]
    document = _document(ours, stock)
    report.validate(document)
    by_name = {t["target"]: t for t in document["targets"]}
    assert by_name["messages/s per core, ours / stock"]["measured"] == round((160 / 1.8) / 18, 2)
    assert by_name["messages/s per core, ours / stock"]["verdict"] == "PASS"
    assert by_name["p95 at 1 conversation"]["limit"] == 31.0 and by_name["p95 at 1 conversation"]["verdict"] == "PASS"
    assert by_name["p95 at 32 conversations"]["verdict"] == "PASS"
    assert by_name["start-up (process start to /status with a model)"]["measured"] == 14.0
    assert all(t["verdict"] in {"PASS", "MISS", "N/A"} for t in document["targets"])
    assert "PASS" in report.table(document)


def test_a_slow_level_misses_and_missing_levels_are_not_applicable():
    ours = [_level(32, 100, 900.0, 2.0, rss=700.0)]
    document = _document(ours, [])
    verdicts = {t["target"]: t["verdict"] for t in document["targets"]}
    assert verdicts["p95 at 32 conversations"] == "MISS"
    assert verdicts["resident memory per Rasa process (peak)"] == "MISS"
    assert verdicts["p95 at 1 conversation"] == "N/A"
    assert verdicts["messages/s per core, ours / stock"] == "N/A"


def test_capacity_uses_the_best_per_core_level():
    ours = {"levels": [_level(8, 90, 50.0, 1.0), _level(32, 150, 200.0, 1.5)], "startup_s": [1.0], "replicas": 2}
    capacity = report.capacity(ours)
    assert capacity["rasa_msgs_per_s_per_core"] == 100.0
    assert capacity["rasa_replicas"] == 15  # 1000 / (100 * 0.7) = 14.3


def test_validate_rejects_incomplete_documents():
    with pytest.raises(ValueError):
        report.validate({"schema": "other"})
    document = _document([_level(1, 10, 10.0, 0.5)], [])
    del document["assistants"]["larkspur"]["levels"][0]["p95_ms"]
    with pytest.raises(ValueError):
        report.validate(document)


def test_load_generator_refuses_non_loopback_targets():
    check_loopback(["http://127.0.0.1:5005", "http://localhost:1"])
    with pytest.raises(ValueError):
        check_loopback(["http://example.com:5005"])


def test_p95_at_one_conversation_charges_each_turn_its_own_backend_calls():
    one = _level(1, 40, 70.0, 0.5, backend={"ms_per_backend_turn": 6.0})
    one["own_time"] = {
        "turns": 100,
        "errors": 0,
        "p50_ms": 12.0,
        "p95_ms": 24.0,
        "p99_ms": 30.0,
        "raw_p95_ms": 70.0,
        "turns_with_backend_calls": 30,
        "backend_ms_per_such_turn": 40.0,
    }
    target = {t["target"]: t for t in report.verdicts({"levels": [one], "startup_s": [5.0]}, None)}
    assert target["p95 at 1 conversation"]["measured"] == 24.0 and target["p95 at 1 conversation"]["limit"] == 25.0
    assert (
        target["p95 at 1 conversation"]["verdict"] == "PASS"
        and "raw p95 70.0" in target["p95 at 1 conversation"]["note"]
    )
    one["own_time"]["p95_ms"] = 26.0
    target = {t["target"]: t for t in report.verdicts({"levels": [one], "startup_s": [5.0]}, None)}
    assert target["p95 at 1 conversation"]["verdict"] == "MISS"


def test_a_backend_probe_charges_each_turn_what_it_used(tmp_path):
    """A real HTTP server stands in for Rasa; the probe's counter grows by 0.25 s during each request."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bench.conversations import Conversation, Script, Turn

    spent = {"s": 0.0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            spent["s"] += 0.25
            body = b'[{"text": "ok"}]'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = Script("s", [Turn("hi", ""), Turn("where is 10001", "")], 1, None)
        conversations = [Conversation(f"c{i}", script) for i in range(3)]
        url = [f"http://127.0.0.1:{server.server_address[1]}"]
        result = loadgen.run_level_sync(url, conversations, 1, backend_probe=lambda: spent["s"])
        assert result.messages == 6 and result.backend_s == [0.25] * 6
        with pytest.raises(ValueError, match="one at a time"):
            loadgen.run_level_sync(url, conversations, 2, backend_probe=lambda: spent["s"])
    finally:
        server.shutdown()
