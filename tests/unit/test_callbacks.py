import pytest

from bot.telegram.callbacks import BadCallback, CallbackCodec

codec = CallbackCodec(b"secret")


def test_round_trip() -> None:
    data = codec.encode(42, "ck.int", 7)
    assert len(data.encode()) <= 64
    decoded = codec.decode(42, data)
    assert decoded.route == "ck.int"
    assert decoded.int_arg(0, 0, 10) == 7


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "garbage",
        "1|ck.int|7",
        "2|ck.int|7|abcdefgh",
        "x" * 65,
        "1|ck.int|7|AAAAAAAA",
        "||||",
    ],
)
def test_malformed_forged_or_stale_data_is_rejected(data: str | None) -> None:
    with pytest.raises(BadCallback):
        codec.decode(42, data)


def test_another_users_button_is_rejected() -> None:
    data = codec.encode(1, "ck.del", 5)
    with pytest.raises(BadCallback):
        codec.decode(2, data)


def test_tampered_argument_is_rejected() -> None:
    data = codec.encode(1, "ck.del", 5)
    with pytest.raises(BadCallback):
        codec.decode(1, data.replace("|5|", "|6|"))


def test_a_different_secret_rejects() -> None:
    with pytest.raises(BadCallback):
        CallbackCodec(b"other").decode(1, codec.encode(1, "ob.ok"))


def test_int_arg_range_and_type() -> None:
    decoded = codec.decode(1, codec.encode(1, "ck.int", "x"))
    with pytest.raises(BadCallback):
        decoded.int_arg(0)
    decoded = codec.decode(1, codec.encode(1, "ck.int", 11))
    with pytest.raises(BadCallback):
        decoded.int_arg(0, 0, 10)
    with pytest.raises(BadCallback):
        decoded.int_arg(3)


def test_encode_refuses_unsafe_or_oversized() -> None:
    with pytest.raises(ValueError):
        codec.encode(1, "ck.note", "has|pipe")
    with pytest.raises(ValueError):
        codec.encode(1, "ck.x", *(["abcdefgh"] * 8))
