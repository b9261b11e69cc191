"""An unknown model name fails fast without a network: no hub client retries (~25 s)."""

from __future__ import annotations

import socket

import pytest

from rain_guard.errors import ModelNotFoundError
from rain_guard.models import resolve


@pytest.fixture
def no_proxy(monkeypatch):
    names = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
    for name in (*names, "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)


def test_an_unreachable_hub_ends_the_lookup_without_asking_the_hub(monkeypatch, no_proxy):
    import transformers.utils

    asked: list[dict] = []
    real = transformers.utils.cached_file

    def cached_file(*args, **kwargs):
        asked.append(kwargs)
        return real(*args, **{**kwargs, "local_files_only": True})

    monkeypatch.setattr(transformers.utils, "cached_file", cached_file)
    monkeypatch.setattr(resolve, "_unreachable_hub", lambda: "huggingface.co:443")
    with pytest.raises(ModelNotFoundError, match=r"huggingface.co:443 cannot be reached"):
        resolve.load_model("nobody/no-such-model")
    assert all(kwargs.get("local_files_only") for kwargs in asked)  # never online


def test_the_probe_sees_a_closed_port_at_once(monkeypatch, no_proxy):
    with socket.socket() as sock:  # a free port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    attempts = []
    real = socket.create_connection

    def create_connection(address, timeout=None, *args, **kwargs):
        attempts.append((address, timeout))
        return real(address, timeout, *args, **kwargs)

    monkeypatch.setattr(resolve.socket, "create_connection", create_connection)
    assert resolve._unreachable_hub(timeout=5.0) == f"127.0.0.1:{port}"
    assert attempts == [(("127.0.0.1", port), 5.0)]  # one bounded attempt, no retry


def test_the_probe_passes_a_listening_hub(monkeypatch, no_proxy):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert resolve._unreachable_hub(timeout=5.0) is None


def test_behind_a_proxy_nothing_is_probed(monkeypatch, no_proxy):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    assert resolve._unreachable_hub(timeout=0.1) is None


@pytest.mark.parametrize("flag", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_offline_flag_ends_the_lookup_without_probe_or_hub(monkeypatch, no_proxy, flag):
    import transformers.utils

    asked: list[dict] = []
    real = transformers.utils.cached_file

    def cached_file(*args, **kwargs):
        asked.append(kwargs)
        return real(*args, **{**kwargs, "local_files_only": True})

    def no_probe(*args, **kwargs):
        raise AssertionError("the hub was probed although the offline flag is set")

    monkeypatch.setenv(flag, "1")
    monkeypatch.setattr(transformers.utils, "cached_file", cached_file)
    monkeypatch.setattr(resolve, "_unreachable_hub", no_probe)
    with pytest.raises(ModelNotFoundError, match=f"skipped: {flag} is set") as info:
        resolve.load_model("nobody/no-such-model")
    assert "nobody/no-such-model" in str(info.value)
    assert asked and all(kwargs.get("local_files_only") for kwargs in asked)
