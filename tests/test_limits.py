"""The SQS rules the kit checks before anything is sent."""

from __future__ import annotations

import pytest

from labsupport import limits
from labsupport.errors import (
    InvalidMessageContents,
    InvalidParameter,
    InvalidQueueName,
    LimitError,
    MessageTooLarge,
)


@pytest.mark.parametrize(
    "name", ["a", "orders", "my-queue_1", "x" * 80, "jobs.fifo", "y" * 75 + ".fifo"]
)
def test_valid_queue_names_pass(name: str) -> None:
    assert limits.check_queue_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "my queue", "x" * 81, "dots.in.name", "über", "y" * 76 + ".fifo"]
)
def test_invalid_queue_names_name_the_rule_and_value(name: str) -> None:
    with pytest.raises(InvalidQueueName) as info:
        limits.check_queue_name(name)
    assert info.value.value == name
    assert "1 to 80 characters" in str(info.value)


def test_fifo_queue_name_must_end_in_fifo() -> None:
    with pytest.raises(InvalidQueueName, match=r"jobs\.fifo"):
        limits.check_queue_name("jobs", fifo=True)


def test_standard_queue_name_must_not_end_in_fifo() -> None:
    with pytest.raises(InvalidQueueName):
        limits.check_queue_name("jobs.fifo", fifo=False)


def test_body_at_the_queue_limit_passes_and_one_byte_more_fails() -> None:
    assert limits.check_body("x" * 1024, max_size=1024) == 1024
    with pytest.raises(MessageTooLarge) as info:
        limits.check_body("x" * 1025, max_size=1024)
    assert "1,024 bytes" in info.value.limit
    assert info.value.value == 1025
    assert "got 1,025 bytes." in str(info.value)


def test_default_limit_is_one_mebibyte() -> None:
    limits.check_body("x" * 1_048_576)
    with pytest.raises(MessageTooLarge):
        limits.check_body("x" * 1_048_577)


def test_attributes_count_towards_the_size() -> None:
    attrs = {"k": {"DataType": "String", "StringValue": "vv"}}
    # body 10 + name 1 + type 6 + value 2
    assert limits.message_size("x" * 10, attrs) == 19
    with pytest.raises(MessageTooLarge):
        limits.check_body("x" * 1016, attrs, max_size=1024)  # 1,025 bytes


def test_multibyte_characters_count_as_their_utf8_bytes() -> None:
    assert limits.message_size("é€😀") == 2 + 3 + 4


@pytest.mark.parametrize("char", ["\x00", "\x08", "\x1f", "\ufffe", "\ud800"])
def test_characters_sqs_rejects(char: str) -> None:
    with pytest.raises(InvalidMessageContents) as info:
        limits.check_body("ok" + char)
    assert f"U+{ord(char):04X} at position 2" in str(info.value)


@pytest.mark.parametrize("char", ["\t", "\n", "\r", " ", "\ud7ff", "\ue000", "😀"])
def test_characters_sqs_accepts(char: str) -> None:
    limits.check_body("ok" + char)


def test_empty_body_is_refused() -> None:
    with pytest.raises(InvalidParameter):
        limits.check_body("")


def test_more_than_ten_attributes_is_refused() -> None:
    attrs = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    with pytest.raises(InvalidParameter, match="at most 10"):
        limits.check_body("x", attrs)


@pytest.mark.parametrize(
    ("check", "good", "bad"),
    [
        (limits.check_batch_size, [1, 10], [0, 11, -1, 2.5, True, "5"]),
        (limits.check_max_messages, [1, 10], [0, 11]),
        (limits.check_wait_time, [0, 20], [-1, 21]),
        (limits.check_visibility_timeout, [0, 43_200], [-1, 43_201]),
        (limits.check_count, [1, 5000], [0, -3]),
    ],
)
def test_range_checks(check, good, bad) -> None:
    for value in good:
        assert check(value) == value
    for value in bad:
        with pytest.raises(LimitError) as info:
            check(value)
        assert info.value.value == value
        assert "whole number from" in info.value.limit


def test_batch_size_error_reads_like_the_service() -> None:
    with pytest.raises(InvalidParameter) as info:
        limits.check_batch_size(11)
    assert str(info.value) == (
        "Invalid batch size: must be a whole number from 1 to 10; got 11."
    )


@pytest.mark.parametrize("entry_id", ["a", "A-b_9", "z" * 80])
def test_valid_entry_ids(entry_id: str) -> None:
    assert limits.check_entry_id(entry_id) == entry_id


@pytest.mark.parametrize("entry_id", ["", "a b", "z" * 81, "a.b"])
def test_invalid_entry_ids(entry_id: str) -> None:
    with pytest.raises(InvalidParameter):
        limits.check_entry_id(entry_id)
