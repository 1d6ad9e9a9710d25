"""Test support: the fake Discord, the spec check and the hashing encoder."""
