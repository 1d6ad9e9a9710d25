"""docker-compose.yml, parsed (Docker cannot run here): the default and the postgres profile."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]

from bot.settings import DiscordSettings
from index import EngineSettings
from tests.conftest import ROOT

PROFILE = "postgres"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def resolved(value: str) -> str:
    """Interpolate `${NAME:-default}` with its default, as compose does with NAME unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def in_profile(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if PROFILE in service.get("profiles", [])
    }


def test_the_default_is_one_bot_on_files(compose: dict[str, Any]) -> None:
    default = {n: s for n, s in compose["services"].items() if not s.get("profiles")}
    assert list(default) == ["verbatim"]
    bot = default["verbatim"]
    assert bot["build"] == "." and "environment" not in bot and "depends_on" not in bot
    assert "verbatim-index:/data/index" in bot["volumes"]


def test_the_postgres_service_has_a_volume_and_a_healthcheck(compose: dict[str, Any]) -> None:
    database = in_profile(compose)["postgres"]
    assert database["image"] == "pgvector/pgvector:pg17"
    volume, _, folder = database["volumes"][0].partition(":")
    assert folder == "/var/lib/postgresql/data" and volume in compose["volumes"]
    check = database["healthcheck"]
    assert "pg_isready" in " ".join(check["test"]) and check["retries"] >= 1
    assert "ports" not in database  # reached by the services on compose's network only


def test_two_shards_and_a_worker_share_the_database(compose: dict[str, Any]) -> None:
    services = in_profile(compose)
    environment = services["postgres"]["environment"]
    password = resolved(environment["POSTGRES_PASSWORD"])
    bots = {name: s for name, s in services.items() if name != "postgres"}
    assert sorted(bots) == ["shard-0", "shard-1", "worker"]
    for name, service in bots.items():
        assert service["image"] == "verbatim:latest", name
        assert service["depends_on"] == {"postgres": {"condition": "service_healthy"}}, name
        url = resolved(service["environment"]["VERBATIM_DATABASE_URL"])
        user = environment["POSTGRES_USER"]
        expected = f"postgresql://{user}:{password}@postgres:5432/{environment['POSTGRES_DB']}"
        assert url == expected, name
        assert EngineSettings(database_url=url).database_url is not None
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") or source in compose["volumes"], volume
    assert bots["worker"]["command"] == ["worker"]


def test_the_shards_are_valid_and_split_the_count(compose: dict[str, Any]) -> None:
    services = in_profile(compose)
    shards = [services[name]["environment"] for name in ("shard-0", "shard-1")]
    settings = [
        DiscordSettings(shard_count=env["DISCORD_SHARD_COUNT"], shard_ids=env["DISCORD_SHARD_IDS"])
        for env in shards
    ]
    count = settings[0].shard_count
    assert count == 2 and all(s.shard_count == count for s in settings)
    held = sorted(shard for s in settings for shard in s.shard_ids or ())
    assert held == list(range(count))  # every shard run once, by one process
    assert [s.holds_shard_zero for s in settings] == [True, False]  # one syncs, gets DMs
    # Each process its own feedback file: two processes never rotate one file.
    assert len({env["DISCORD_FEEDBACK_FILE"] for env in shards}) == len(shards)
