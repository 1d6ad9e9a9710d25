"""A channel document with a database: its backfill and its updates are jobs."""

from __future__ import annotations

from types import SimpleNamespace

from bot.exts.docs._feed import ChannelFeed
from tests.e2e.test_channel_source_e2e import DURING, add_channel, new_channel
from tests.e2e.test_docs_e2e import ask, final_edit
from tests.e2e.test_docs_jobs_e2e import jobs_of, queued
from tests.support.cogs import running_cog
from tests.support.fake_discord import GUILD_ID
from tests.support.timing import WAIT_SECONDS

__all__ = ["queued"]  # the bot on Postgres, whose /docs changes are jobs


async def test_a_channel_document_changes_by_jobs(queued: SimpleNamespace) -> None:
    fake, bot = queued.fake, queued.bot
    feed = running_cog(bot, ChannelFeed)
    feed.batch_seconds = 0.5
    channel = fake.channel(fake.snowflake(), name="tea-notes")
    await new_channel(queued, channel)
    cid = channel["id"]
    steeped = fake.posted(cid, "Green tea is steeped at eighty degrees for two minutes.", at=DURING)
    fake.posted(cid, "The kettle is descaled every month with citric acid.", at=DURING)

    payload = await add_channel(fake, channel)
    done = await final_edit(fake, payload, "Added", "couldn't", "Nothing")
    assert "2 paragraphs" in done and "keep it up to date" in done
    assert [(k, s) for k, s, _ in jobs_of(bot)] == [("add", "done")]
    assert f"/channels/{GUILD_ID}/{cid}/{steeped['id']}" in await ask(
        fake, "At what temperature is green tea steeped?"
    )

    batches = feed.batches
    await fake.dispatch(
        "MESSAGE_DELETE", {"id": steeped["id"], "channel_id": cid, "guild_id": GUILD_ID}
    )
    await feed.wait_applied(batches + 1, WAIT_SECONDS)
    assert [(k, s) for k, s, _ in jobs_of(bot)][1:] == [("add", "done"), ("remove", "done")]
    [entry] = bot.library.entries(int(GUILD_ID))
    _, data = bot.library.payload(int(GUILD_ID), entry.doc_id)
    assert b"eighty" not in data and b"descaled" in data
    assert "eighty" not in await ask(fake, "At what temperature is green tea steeped?")
