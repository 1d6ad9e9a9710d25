"""Unit tests: one stage of the engine or the bot at a time."""
