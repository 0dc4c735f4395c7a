"""Fuzzing with hypothesis: the callback codec on its own, and the running bot with random button
data and random text (empty, 4,096 characters, control characters, emoji, other users' ids).

Targets: 0 unhandled exceptions (no "update N failed:" line from bot/telegram/errors.py), every
input answered, and 0 writes from invalid input (the users' files stay byte for byte the same).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.telegram.callbacks import MAX_BYTES, BadCallback, CallbackCodec
from tests.e2e.harness import BotHarness, onboard
from tests.faults.conftest import CAPTURE, FIGURES, failed_lines

ME, OTHER = 9_001, 9_002
QUICK, FULL = 25, 300
_SRC = Path(__file__).resolve().parents[2] / "bot" / "telegram"
# Every route the bot signs or matches, read from the source (feature packages included) so
# new features are fuzzed too.
ROUTES = sorted(
    {m for f in _SRC.rglob("*.py") for m in re.findall(r'"([a-z]{2}\.[a-z_]+)"', f.read_text())}
)
# Own, correctly signed buttons with random arguments may be valid input: these routes would
# start timers or delete the account, which later examples would then see as "writes".
NO_OWN_SIGNED = ("rl.", "fg.", "rf.")
TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"


tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=8)
small_ints = st.integers(-5, 10**6).map(str)
args = st.lists(st.one_of(tokens, small_ints), max_size=3)
fits = lambda s: 0 < len(s.encode()) <= MAX_BYTES  # noqa: E731  Telegram's limit for any data


def signed(codec: CallbackCodec, uid: int, routes: list[str]) -> st.SearchStrategy[str]:
    def build(route: str, a: list[str]) -> str | None:
        try:
            return codec.encode(uid, route, *a)
        except ValueError:
            return None  # too long for 64 bytes

    return st.builds(build, st.sampled_from(routes), args).filter(lambda d: d is not None)


def invalid_callbacks(codec: CallbackCodec) -> st.SearchStrategy[str]:
    """Data that must change nothing: garbage, forged signatures, other users' real buttons."""
    forged = st.builds(
        lambda r, a, sig: "|".join(["1", r, *a, sig]), st.sampled_from(ROUTES), args, tokens
    )
    return st.one_of(
        st.text(min_size=1, max_size=64),
        forged,
        signed(codec, OTHER, ROUTES),
        st.builds(lambda d: d[:-1] + ("A" if d[-1] != "A" else "B"), signed(codec, ME, ROUTES)),
    ).filter(fits)


texts = st.one_of(
    st.just(""),
    st.text(max_size=80),
    st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Co"]), min_size=1, max_size=30),
    st.text(st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), min_size=1, max_size=30),
    st.sampled_from(
        [
            "x" * 4096,
            "🙂" * 2048,  # 4,096 UTF-16 units
            "a" * 5000,
            "<b>not closed",
            "&amp; <i>tags</i> \u202e reversed",
            f"/start {OTHER}",
            f"{OTHER}",
            "/cancel",
            "/settings",
            "/history",
            "/week",
            "/help",
            "/checkin",
            "/timezone Atlantis/Nowhere",
            "/tiptime 25:99",
            "/tiptime -1",
            "📝 Log an episode",
            "💡 Tip",
            "📊 My week",
        ]
    ),
    st.builds(
        lambda c, a: f"/{c} {a}",
        st.sampled_from(["timezone", "tiptime", "start", "history", "week", "nonsense"]),
        st.text(max_size=40),
    ),
)


def test_codec_rejects_everything_it_did_not_sign() -> None:
    """Random data, tampering and other users' buttons all raise BadCallback, nothing else."""
    codec = CallbackCodec(b"fuzz-secret")

    @settings(max_examples=2000, deadline=None)
    @given(st.one_of(st.none(), st.text(max_size=100), invalid_callbacks(codec)))
    def run(data: str | None) -> None:
        with pytest.raises(BadCallback):
            codec.decode(ME, data)

    @settings(max_examples=500, deadline=None)
    @given(st.sampled_from(ROUTES), args)
    def roundtrip(route: str, a: list[str]) -> None:
        try:
            data = codec.encode(ME, route, *a)
        except ValueError:
            return  # refused at encode time: never sent
        assert len(data.encode()) <= MAX_BYTES
        decoded = codec.decode(ME, data)
        assert (decoded.route, list(decoded.args)) == (route, a)
        with pytest.raises(BadCallback):
            codec.decode(OTHER, data)

    run()
    roundtrip()
    FIGURES["fuzz, callback codec"] = "2,000 invalid inputs rejected, 500 round trips exact"


def test_every_feature_with_buttons_is_fuzzed() -> None:
    """A feature whose buttons are routed (`feature_pattern("dy")`) has routes in ROUTES: a
    feature package the route scan missed would go unfuzzed."""
    features = {
        m
        for f in _SRC.rglob("*.py")
        for m in re.findall(r'feature_pattern\("([a-z]{2})"\)', f.read_text())
    }
    assert {"dy", "tp"} <= features  # the scan itself sees packages and top-level modules
    assert features <= {route.split(".")[0] for route in ROUTES}


_count: dict[str, int] = {}


async def _users(harness: BotHarness) -> tuple[Any, Any]:
    """Onboard both users once per harness (hypothesis reuses it across examples). Kept on the
    harness itself: a cache keyed by id(harness) handed a new harness the users of an old one
    whenever CPython reused the address."""
    ready: tuple[Any, Any] | None = getattr(harness, "fuzz_users", None)
    if ready is None:
        me = await onboard(harness, ME)
        other = await onboard(harness, OTHER)
        await me.send("/checkin")  # a draft in progress: its state is what buttons act on
        await me.next_message()
        for user in (me, other):  # every write of the set-up is done before the first snapshot
            await user.settle()
        ready = harness.fuzz_users = (me, other)  # type: ignore[attr-defined]
    return ready


def _snapshot(harness: BotHarness) -> dict[int, bytes]:
    return {uid: harness.user_file(uid).read_bytes() for uid in (ME, OTHER)}


def _tables(harness: BotHarness, uid: int) -> dict[str, Any]:
    data = harness.stored(uid)
    return {k: data.get(k) for k in ("profile", "episodes")}


async def _drain(user: Any) -> int:
    """Wait until the bot has handled everything the user sent (`settle`), then read what it
    sent in reply; how many messages."""
    await user.settle()
    count = 0
    while True:
        try:
            await user.next_message(timeout=0)
        except TimeoutError:
            return count
        count += 1


def fuzz_bot(examples: int) -> Any:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    async def test(harness: BotHarness, data: st.DataObject) -> None:
        me, _other = await _users(harness)
        assert harness.app is not None
        real_codec = harness.app.bot_data["services"].codec
        since = len(CAPTURE.records)
        kind = data.draw(st.sampled_from(["text", "bad_button", "own_button"]))
        before = _snapshot(harness)
        tables_before = _tables(harness, ME)
        if kind == "text":
            text = data.draw(texts)
            typed = text.strip()
            if len(typed) >= 12 and len(set(typed)) >= 6 and not typed.startswith("/"):
                CAPTURE.secrets.add(typed)  # free text may be health data: never to a log line
            me.mark_seen()
            await me.send(text)
            assert await _drain(me) >= 1, f"no answer to {text[:40]!r}"
            valid_setting = text.startswith(("/timezone ", "/tiptime "))
            if not valid_setting:
                assert _tables(harness, ME) == tables_before, f"{text[:40]!r} changed data"
        else:
            if kind == "bad_button":
                payload = data.draw(invalid_callbacks(real_codec))
            else:
                own = [r for r in ROUTES if not r.startswith(NO_OWN_SIGNED)]
                payload = data.draw(signed(real_codec, ME, own))
            await me.press_data(payload, timeout=5)  # raises if never answered
            await _drain(me)
            if kind == "bad_button":
                assert _snapshot(harness) == before, f"{payload!r} changed a file"
        assert failed_lines(since) == [], failed_lines(since)
        _count[kind] = _count.get(kind, 0) + 1
        FIGURES["fuzz, running bot"] = (
            f"{sum(_count.values())} inputs ({_count}): 0 unhandled exceptions, "
            "every input answered, 0 writes from invalid input"
        )

    return test


test_bot_survives_random_input = fuzz_bot(QUICK)
test_bot_survives_random_input_long = pytest.mark.slow(fuzz_bot(FULL))


@pytest.mark.parametrize("route_and_args", [("wk.sub", "1"), ("ob.tz", "99"), ("ob.tt",)])
async def test_bugs_fuzzing_found_stay_fixed(
    harness: BotHarness, route_and_args: tuple[str, ...]
) -> None:
    """Found by this fuzzing and fixed: a correctly signed but stale button, or a double tap,
    gets a short answer, never "something went wrong" (the double tap on the weekly toggle
    edited to the same markup; bad onboarding arguments escaped as BadCallback)."""
    user = await onboard(harness, ME)
    assert harness.app is not None
    codec = harness.app.bot_data["services"].codec
    route, *rest = route_and_args
    since = len(CAPTURE.records)
    for _ in range(2):  # twice: the second tap is the double tap
        await user.press_data(codec.encode(ME, route, *rest), timeout=5)
        await _drain(user)
    assert failed_lines(since) == []
    assert not [m for m in user.events if "went wrong" in m.text]
