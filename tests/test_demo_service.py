"""Tests for upkeep.demo.service: the demo's health service started, left alone and stopped, on
real sockets."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers.demo import load_demo_config

from upkeep.config import Config
from upkeep.demo import DemoError, DemoService, free_port, health_answers, serve_forever


def config_at(directory: Path, port: int) -> Config:
    return load_demo_config(directory, port)


def get(url: str) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_service_answers_health_and_404_and_stops_on_exit(tmp_path: Path) -> None:
    port = free_port()
    with DemoService(config_at(tmp_path, port)) as service:
        assert service.process is not None
        status, body = get(f"http://127.0.0.1:{port}/health")
        assert status == 200 and body["status"] == "ok"
        assert isinstance(body["uptime_s"], float) and body["uptime_s"] >= 0
        assert get(f"http://127.0.0.1:{port}/nothing-here")[0] == 404
        process = service.process
    assert process.poll() is not None
    assert not health_answers("127.0.0.1", port)


def test_service_already_answering_is_left_alone(tmp_path: Path) -> None:
    config = config_at(tmp_path, free_port())
    with DemoService(config) as outer:
        with DemoService(config) as inner:
            assert inner.process is None
        assert health_answers(outer.host, outer.port)
    assert not health_answers(outer.host, outer.port)


def test_port_taken_by_something_else_fails_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        config = config_at(tmp_path, squatter.getsockname()[1])
        started = time.monotonic()
        with pytest.raises(DemoError, match="cannot listen"):
            DemoService(config, startup_timeout_s=8).__enter__()
        assert time.monotonic() - started < 8  # the dead child was noticed, not waited out


def test_serve_forever_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        config = config_at(tmp_path, squatter.getsockname()[1])
        with pytest.raises(DemoError, match="demo.http_port"):
            serve_forever(config)


def test_health_answers_false_when_nothing_answers_in_time() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        # Something listens but never answers: not up, and the wait is bounded by the timeout.
        started = time.monotonic()
        assert not health_answers("127.0.0.1", port, timeout_s=0.3)
        assert time.monotonic() - started < 2
