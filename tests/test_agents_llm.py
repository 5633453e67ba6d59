"""The LLM voice against a fake OpenAI-compatible server over real HTTP: accepted replies,
and every way back to the deterministic text (slow, 5xx, invented numbers or symbols,
malformed, over budget), counted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.fake_llm import FakeLLM
from tests.test_agents_voices import start, stop

from alphawire.agents.brain import NarrativeBrain
from alphawire.agents.llm import (
    INSTRUCTION,
    GuardedVoice,
    LLMOptions,
    OpenAICompatibleLLM,
    parse_reply,
    symbols_outside,
)
from alphawire.agents.reddit import RedditAgent

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 12, 4, 14, 31, tzinfo=UTC)
FACTS = {
    "symbol": "GME",
    "stance": "bullish",
    "confidence": 0.8,
    "drivers": [{"agent": "reddit", "text": "GME chatter at 17.2x normal (3,100 mentions)"}],
    "agents": 2,
}
FALLBACK = ("templated headline", "templated summary")
GOOD = "HEADLINE: GME is the forum's darling at 17.2x normal.\nSUMMARY: 3,100 mentions; 2 agents."


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM(api_key="sk-test") as server:
        yield server


@pytest.fixture
async def voices() -> AsyncIterator[list[GuardedVoice]]:
    made: list[GuardedVoice] = []
    yield made
    for v in made:
        await v.close()


def voice(
    fake: FakeLLM, monkeypatch: pytest.MonkeyPatch, made: list[GuardedVoice], **kw: object
) -> GuardedVoice:
    monkeypatch.setenv("ALPHAWIRE_TEST_LLM_KEY", "sk-test")
    options = LLMOptions(
        base_url=fake.base_url, model="fake-1", api_key_env="ALPHAWIRE_TEST_LLM_KEY", **kw
    )
    made.append(GuardedVoice(OpenAICompatibleLLM(options), options, "savage"))
    return made[-1]


async def test_an_accepted_reply_counts_its_tokens_and_sends_only_the_facts(
    fake: FakeLLM, monkeypatch: pytest.MonkeyPatch, voices: list[GuardedVoice]
) -> None:
    """A reply whose numbers and symbols are all in the facts is used; usage is counted; the
    request holds the persona, the instruction and the facts as JSON, with the key."""
    fake.reply = GOOD
    guarded = voice(fake, monkeypatch, voices, max_tokens=100)
    headline, summary, from_llm = await guarded.rewrite(FACTS, {"GME"}, FALLBACK, now=NOW)
    assert (headline, summary, from_llm) == (
        "GME is the forum's darling at 17.2x normal.",
        "3,100 mentions; 2 agents.",
        True,
    )
    [request] = fake.requests
    assert request["model"] == "fake-1" and request["max_tokens"] == 100
    system, user = request["messages"]
    assert system["role"] == "system" and "sarcastic" in system["content"]
    assert user["content"].startswith(INSTRUCTION + "\nFACTS: ")
    assert json.loads(user["content"].split("FACTS: ", 1)[1]) == FACTS
    assert fake.headers[0]["authorization"] == "Bearer sk-test"
    prompt = len(system["content"].split()) + len(user["content"].split())
    status = guarded.status()
    assert status["prompt_tokens"] == prompt and status["completion_tokens"] == len(GOOD.split())
    assert (status["requests"], status["accepted"], status["fallbacks"]) == (1, 1, 0)


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ({"delay": 5.0}, "timeout"),
        ({"fail_status": 500}, "error"),
        ({"fail_status": 503}, "error"),
        ({"fail_status": 429}, "error"),
        ({"reply": "HEADLINE: GME at 18.5x normal.\nSUMMARY: 3,100 mentions."}, "numbers"),
        ({"reply": "HEADLINE: GME and AMC rip.\nSUMMARY: 3,100 mentions."}, "symbols"),
        ({"reply": "GME is hot, trust me."}, "format"),
    ],
)
async def test_bad_or_slow_replies_fall_back_to_the_template(
    fake: FakeLLM,
    monkeypatch: pytest.MonkeyPatch,
    voices: list[GuardedVoice],
    setup: dict[str, object],
    reason: str,
) -> None:
    """Slow (past the timeout), 5xx/429, an invented number, a symbol not in the facts, or a
    malformed reply: the templated text is returned and the fallback counted by reason."""
    for key, value in setup.items():
        setattr(fake, key, value)
    # Only the slow reply meets the timeout: the others get one long enough that a loaded
    # machine's slow answer still reads as the error it is, not as a timeout.
    timeout = 1.0 if reason == "timeout" else 30.0
    guarded = voice(fake, monkeypatch, voices, timeout=timeout)
    assert await guarded.rewrite(FACTS, {"GME"}, FALLBACK, now=NOW) == (*FALLBACK, False)
    status = guarded.status()
    assert status["fallbacks"] == 1 and status["fallback_reasons"] == {reason: 1}
    assert status["accepted"] == 0 and len(fake.requests) == 1


async def test_the_hourly_token_budget_stops_requests_until_the_next_hour(
    fake: FakeLLM, monkeypatch: pytest.MonkeyPatch, voices: list[GuardedVoice]
) -> None:
    """Once an hour's tokens are spent no request is sent (fallback "budget"); the next clock
    hour starts a fresh budget."""
    fake.reply = GOOD
    guarded = voice(fake, monkeypatch, voices, token_budget_per_hour=50)
    assert (await guarded.rewrite(FACTS, {"GME"}, FALLBACK, now=NOW))[2] is True
    assert guarded.status()["tokens_this_hour"] > 50
    assert (await guarded.rewrite(FACTS, {"GME"}, FALLBACK, now=NOW))[2] is False
    assert len(fake.requests) == 1 and guarded.fallback_reasons == {"budget": 1}
    later = NOW + timedelta(hours=1)
    assert (await guarded.rewrite(FACTS, {"GME"}, FALLBACK, now=later))[2] is True


async def test_concurrency_is_bounded(
    fake: FakeLLM, monkeypatch: pytest.MonkeyPatch, voices: list[GuardedVoice]
) -> None:
    """With concurrency 1, four rewrites at once reach the server one at a time."""
    fake.reply, fake.delay = GOOD, 0.05
    guarded = voice(fake, monkeypatch, voices, concurrency=1, timeout=30)
    results = await asyncio.gather(
        *(guarded.rewrite(FACTS, {"GME"}, FALLBACK, now=NOW) for _ in range(4))
    )
    assert [r[2] for r in results] == [True] * 4
    assert fake.max_in_flight == 1 and len(fake.requests) == 4


def test_the_reply_checks_by_hand() -> None:
    """Symbols outside the allowed set are named; market words are not; replies need two lines."""
    assert symbols_outside("GME and $AMC vs the VIX, YOLO", {"GME"}) == ["AMC"]
    assert parse_reply("HEADLINE: a\nSUMMARY: b") == ("a", "b")
    assert parse_reply("HEADLINE: a") is None


async def test_the_brain_writes_with_the_llm_and_falls_back_per_narrative(
    tmp_path: Path, fake: FakeLLM, monkeypatch: pytest.MonkeyPatch, voices: list[GuardedVoice]
) -> None:
    """In a node, narratives carry the model's text (written_by "llm") when it passes the check;
    a reply inventing a number makes them templated (written_by "template"), counted in status."""
    monkeypatch.setenv("ALPHAWIRE_TEST_LLM_KEY", "sk-test")
    fake.reply = "HEADLINE: The crowd is loud.\nSUMMARY: Agents agree, mostly."
    llm = {"base_url": fake.base_url, "model": "fake-1", "api_key_env": "ALPHAWIRE_TEST_LLM_KEY"}
    reddit = RedditAgent({"cadence": "1m"})
    brain = NarrativeBrain({"cadence": "1m", "llm": llm})
    run, handles = await start(tmp_path, [reddit, brain])
    try:
        await run.play(5)
        first = [m["narrative"] for m in run.of("narrative")]
        fake.reply = "HEADLINE: GME up 42 percent.\nSUMMARY: Agents agree."
        await run.play(20)  # the 20 s mention count changes GME's inputs
        await brain.run_now()
        await run.sync()
        later = [m["narrative"] for m in run.of("narrative")][len(first) :]
    finally:
        await stop(handles)
    assert first and {n["written_by"] for n in first} == {"llm"}
    assert first[0]["headline"] == "The crowd is loud."
    assert later and {n["written_by"] for n in later} == {"template"}
    status = brain.status()["llm"]
    assert status["accepted"] == len(first) and status["fallback_reasons"] == {
        "numbers": len(later)
    }


def test_the_readme_llm_table_is_valid_options() -> None:
    """The README's `[agents.narrative.llm]` example validates as the brain's options."""
    import tomllib

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("### Narrative Brain") :]
    block = section[section.index("```toml\n") + 8 : section.index("\n```\n")]
    table = tomllib.loads(block)["agents"]["narrative"]
    brain = NarrativeBrain({"voice": "plain", **table})
    assert brain.settings.llm is not None and brain.settings.llm.model == "llama3.1"
    assert brain.status()["llm"]["requests"] == 0
