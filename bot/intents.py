"""The gateway intents: Message Content only when some server's settings need messages read."""

from __future__ import annotations

import discord

from index import ServerStates

# Per-server settings whose channels the bot reads unasked: auto-answer, channels as a source.
READS_MESSAGES = ("autoanswer", "channels")
MESSAGE_CONTENT_TO_TICK = (
    "Discord sends me no message text yet. In the Developer Portal, open this application's "
    "**Bot** page, tick **Message Content Intent** under *Privileged Gateway Intents*, save, "
    "and run this command again."
)


def messages_needed(states: ServerStates) -> bool:
    """Return whether any server has a channel that the bot reads unasked."""
    return any(states.tenants(key) for key in READS_MESSAGES)


def gateway_intents(*, message_content: bool) -> discord.Intents:
    """Return the default intents, with the privileged Message Content one only when asked."""
    # Mentions and DMs carry their text without the privileged intent; only channels read
    # unasked need it, and an application in 100+ servers must be verified to get it.
    intents = discord.Intents.default()
    intents.message_content = message_content
    return intents


def portal_grants_message_content(flags: discord.ApplicationFlags) -> bool:
    """Return whether the Developer Portal lets this application read message text."""
    # Unverified applications (under 100 servers) get the "limited" flag once it is ticked.
    return flags.gateway_message_content or flags.gateway_message_content_limited
