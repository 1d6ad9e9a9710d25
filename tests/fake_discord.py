"""A local stand-in for Discord: REST and gateway on 127.0.0.1, recording every request."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

from tests.discord_spec import SpecValidator, Upload

APP_ID = "900000000000000001"
GUILD_ID = "900000000000000002"
CHANNEL_ID = "900000000000000003"
DM_CHANNEL_ID = "900000000000000004"
USER_ID = "900000000000000005"
BOT_USER = {
    "id": APP_ID,
    "username": "Verbatim",
    "discriminator": "0",
    "global_name": "Verbatim",
    "avatar": None,
    "bot": True,
    "flags": 0,
}
USER = {
    "id": USER_ID,
    "username": "asker",
    "discriminator": "0",
    "global_name": "Asker",
    "avatar": None,
    "flags": 0,
}
TIMESTAMP = "2026-11-24T12:00:00.000000+00:00"


@dataclass
class Recorded:
    """One request the bot made."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float
    content_type: str
    response: Any = None
    files: list[Upload] = field(default_factory=list)


@dataclass
class FakeDiscord:
    """Serve just enough of Discord for a real discord.py client, and check what it sends."""

    validator: SpecValidator
    heartbeat_interval_ms: int = 1000
    requests: list[Recorded] = field(default_factory=list)
    spec_errors: list[str] = field(default_factory=list)
    heartbeats: list[float] = field(default_factory=list)
    identified: asyncio.Event = field(default_factory=asyncio.Event)
    rate_limits: dict[str, int] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        self._ids = itertools.count(910000000000000000)
        self._sequence = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self.changed = asyncio.Condition()

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def snowflake(self) -> str:
        return str(next(self._ids))

    # -- gateway -------------------------------------------------------------------------
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            if payload["op"] == 1:
                self.heartbeats.append(time.monotonic())
                await socket.send_json({"op": 11})
            elif payload["op"] == 2:
                await self._send(socket, "READY", self._ready())
                await self._send(socket, "GUILD_CREATE", self._guild())
                self.identified.set()
        return socket

    async def _send(self, socket: web.WebSocketResponse, event: str, data: Any) -> None:
        await socket.send_json({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway event to every connected client."""
        for socket in self._sockets:
            if not socket.closed:
                await self._send(socket, event, data)

    def _ready(self) -> dict[str, Any]:
        return {
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": GUILD_ID, "unavailable": True}],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": APP_ID, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }

    def _guild(self) -> dict[str, Any]:
        everyone = {
            "id": GUILD_ID,
            "name": "@everyone",
            "permissions": "2248473465835073",
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        channel = {
            "id": CHANNEL_ID,
            "type": 0,
            "name": "general",
            "position": 0,
            "permission_overwrites": [],
            "guild_id": GUILD_ID,
            "nsfw": False,
        }
        member = {
            "user": BOT_USER,
            "roles": [],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        return {
            "id": GUILD_ID,
            "name": "Test server",
            "icon": None,
            "owner_id": USER_ID,
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [channel],
            "threads": [],
            "members": [member],
            "member_count": 2,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "joined_at": TIMESTAMP,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "system_channel_flags": 0,
            "premium_progress_bar_enabled": False,
        }

    # -- REST ----------------------------------------------------------------------------
    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # discord.py only parses bodies whose content type is exactly application/json.
        return web.Response(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _rate_limited(self, key: str) -> web.Response | None:
        left = self.rate_limits.get(key, 0)
        if left <= 0:
            return None
        self.rate_limits[key] = left - 1
        headers = {
            "Via": "1.1 google",  # without it discord.py takes a 429 for a Cloudflare ban
            "Retry-After": "0.3",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": "0.3",
            "X-RateLimit-Bucket": "fake-bucket",
            "X-RateLimit-Scope": "user",
        }
        body = {"message": "You are being rate limited.", "retry_after": 0.3, "global": False}
        return self._json(body, 429, headers)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: list[Upload] = []
        content_type = request.headers.get("Content-Type", "")
        media = content_type.split(";")[0].strip()
        if request.can_read_body:
            if media == "multipart/form-data":
                reader = await request.multipart()
                async for part in reader:
                    if not isinstance(part, BodyPartReader):
                        continue
                    if part.name == "payload_json":
                        body = json.loads(await part.text())
                    else:
                        data = bytes(await part.read())
                        kind = part.headers.get("Content-Type", "")
                        files.append(Upload(part.name or "", part.filename or "", kind, data))
            else:
                raw = await request.read()
                body = json.loads(raw) if raw else None
        recorded = Recorded(
            request.method, path, dict(request.query), body, time.monotonic(), content_type
        )
        recorded.files = files
        async with self.changed:
            self.requests.append(recorded)
            self.changed.notify_all()
        if request.method in ("POST", "PUT", "PATCH"):
            self.spec_errors.extend(
                self.validator.errors(
                    request.method, path, body, files, media or "application/json"
                )
            )
        limited = self._rate_limited(f"{request.method} {path.split('/')[1]}")
        if limited is not None:
            return limited
        response = self._reply(request.method, path, request.query, body)
        if response.body and response.content_type == "application/json":
            recorded.response = json.loads(bytes(response.body))  # type: ignore[arg-type]
        return response

    def _message(self, body: dict[str, Any] | None, channel_id: str) -> dict[str, Any]:
        body = body or {}
        return {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "author": BOT_USER,
            "content": body.get("content") or "",
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds") or [],
            "pinned": False,
            "type": 0,
            "flags": body.get("flags") or 0,
            "components": body.get("components") or [],
        }

    def _reply(self, method: str, path: str, query: Any, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        if path == "/users/@me":
            return self._json(BOT_USER)
        if path == "/oauth2/applications/@me":
            return self._json(
                {
                    "id": APP_ID,
                    "name": "Verbatim",
                    "icon": None,
                    "description": "",
                    "bot_public": True,
                    "bot_require_code_grant": False,
                    "verify_key": "0" * 64,
                    "flags": 0,
                    "owner": USER,
                    "team": None,
                    "summary": "",
                    "bot": BOT_USER,
                }
            )
        if path in ("/gateway", "/gateway/bot"):
            return self._json(
                {
                    "url": self.gateway_url,
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000,
                        "reset_after": 0,
                        "max_concurrency": 1,
                    },
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            commands = [
                {**c, "id": self.snowflake(), "application_id": APP_ID, "version": "1"}
                for c in body or []
            ]
            return self._json(commands)
        if parts[0] == "applications" and parts[-1] == "commands":
            return self._json([])
        if parts[0] == "interactions" and parts[-1] == "callback":
            if query.get("with_response") not in ("1", "true"):
                return web.Response(status=204)
            response_type = (body or {}).get("type")
            data = (body or {}).get("data") or {}
            result: dict[str, Any] = {
                "interaction": {
                    "id": parts[1],
                    "type": 2,
                    "response_message_loading": response_type == 5,
                    "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
                }
            }
            if response_type in (4, 5, 7):
                message = self._message(data, CHANNEL_ID)
                result["interaction"]["response_message_id"] = message["id"]
                result["resource"] = {"type": response_type, "message": message}
            else:
                result["resource"] = {"type": response_type}
            return self._json(result)
        if parts[0] == "webhooks":
            if method == "DELETE":
                return web.Response(status=204)
            return self._json(self._message(body, CHANNEL_ID))
        if parts[0] == "channels" and parts[-1] == "typing":
            return web.Response(status=204)
        if parts[0] == "channels" and parts[-1] == "messages" and method == "POST":
            return self._json(self._message(body, parts[1]))
        return self._json({"message": "404: Not Found", "code": 0}, 404)

    # -- helpers for tests ---------------------------------------------------------------
    async def wait_for(self, predicate: Any, timeout: float = 30.0) -> list[Recorded]:
        """Wait until the recorded requests satisfy a predicate; return the matching ones."""

        async def matched() -> list[Recorded]:
            async with self.changed:
                while True:
                    found = [r for r in self.requests if predicate(r)]
                    if found:
                        return found
                    await self.changed.wait()

        return await asyncio.wait_for(matched(), timeout)

    def interaction(
        self,
        name: str,
        options: list[dict[str, Any]] | None = None,
        *,
        user: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build an INTERACTION_CREATE payload for a slash command in the test guild."""
        return {
            "id": self.snowflake(),
            "application_id": APP_ID,
            "type": 2,
            "token": f"token-{self.snowflake()}",
            "version": 1,
            "data": {"id": self.snowflake(), "name": name, "type": 1, "options": options or []},
            "guild_id": GUILD_ID,
            "channel_id": CHANNEL_ID,
            "channel": {
                "id": CHANNEL_ID,
                "type": 0,
                "guild_id": GUILD_ID,
                "name": "general",
                "permissions": "2248473465835073",
            },
            "member": {
                "user": user or USER,
                "roles": [],
                "joined_at": TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": "2248473465835073",
            },
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID},
            "context": 0,
            "attachment_size_limit": 26214400,
        }

    def message(
        self,
        content: str,
        *,
        mentions_bot: bool = True,
        dm: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build a MESSAGE_CREATE payload from the test user."""
        data: dict[str, Any] = {
            "id": self.snowflake(),
            "channel_id": DM_CHANNEL_ID if dm else CHANNEL_ID,
            "author": USER,
            "content": content,
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [BOT_USER] if mentions_bot else [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
        }
        if not dm:
            data["guild_id"] = GUILD_ID
            data["member"] = {
                "roles": [],
                "joined_at": TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
            }
        return {**data, **(extra or {})}
