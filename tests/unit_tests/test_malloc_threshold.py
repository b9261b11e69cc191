"""The glibc mmap threshold a backend fixes: once, on request, and a clear error on bad input."""

from __future__ import annotations

import pytest

from rain_guard.backends.transformers import malloc_threshold as mt
from rain_guard.errors import ConfigError


class _FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


@pytest.fixture
def libc(monkeypatch):
    fake = _FakeLibc()
    monkeypatch.setattr(mt, "_glibc", lambda: fake)
    monkeypatch.setattr(mt, "_applied", None)
    monkeypatch.setattr(mt.sys, "platform", "linux")
    monkeypatch.delenv(mt.ENV, raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    return fake


def test_the_threshold_is_fixed_once_per_process(libc):
    assert mt.fix_mmap_threshold() == mt.DEFAULT_BYTES
    assert mt.fix_mmap_threshold() == mt.DEFAULT_BYTES
    assert libc.calls == [(-3, mt.DEFAULT_BYTES)]


def test_the_environment_chooses_the_threshold_or_turns_it_off(libc, monkeypatch):
    monkeypatch.setenv(mt.ENV, "0")
    assert mt.fix_mmap_threshold() is None
    monkeypatch.setenv(mt.ENV, "1048576")
    assert mt.fix_mmap_threshold() == 1048576
    assert libc.calls == [(-3, 1048576)]


def test_glibcs_own_setting_is_left_alone(libc, monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert mt.fix_mmap_threshold() is None
    assert libc.calls == []


@pytest.mark.parametrize("raw", ["lots", "-5", "1.5"])
def test_a_bad_setting_names_the_variable(libc, monkeypatch, raw):
    monkeypatch.setenv(mt.ENV, raw)
    with pytest.raises(ConfigError, match=mt.ENV):
        mt.fix_mmap_threshold()


def test_other_systems_are_left_alone(libc, monkeypatch):
    monkeypatch.setattr(mt.sys, "platform", "darwin")
    assert mt.fix_mmap_threshold() is None
    assert libc.calls == []


def test_this_machines_glibc_takes_the_setting():
    libc = mt._glibc()
    if libc is None:
        pytest.skip("not glibc")
    assert libc.mallopt(-3, mt.DEFAULT_BYTES) == 1
