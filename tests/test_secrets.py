"""Tests for upkeep.secrets: a reference resolves to text, or fails naming the reference and
what was wrong, never with an internal error, and never waiting on a FIFO."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from upkeep.secrets import SECRET_FILE_BYTES, SecretError, resolve


def test_a_variable_whose_value_is_not_utf8_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environb, b"UPKEEP_TEST_RAW", b"Secret\xffValue99")
    with pytest.raises(SecretError, match="env:UPKEEP_TEST_RAW: the variable's value is not"):
        resolve("env:UPKEEP_TEST_RAW")


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_bytes(b"\xff\xfeabcdefgh")
    with pytest.raises(SecretError, match="the secret file is not UTF-8 text"):
        resolve(f"file:{secret}")


def test_a_fifo_in_place_of_a_secret_file_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "token"
    os.mkfifo(fifo)
    with pytest.raises(SecretError, match="not a regular file"):
        resolve(f"file:{fifo}")


def test_a_file_too_large_for_a_secret_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "token"
    big.write_bytes(b"a" * (SECRET_FILE_BYTES + 1))
    with pytest.raises(SecretError, match="over 1048576 bytes"):
        resolve(f"file:{big}")


def test_a_file_resolves_to_its_text_without_the_final_line_break(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret-välue\n")
    assert resolve(f"file:{secret}") == "s3cret-välue"
