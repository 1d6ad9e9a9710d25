"""End-to-end tests: the bot against the fake Discord, the CLI in a subprocess."""
