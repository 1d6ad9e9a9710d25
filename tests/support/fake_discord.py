"""A local stand-in for Discord: REST and gateway on 127.0.0.1, recording every request."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.discord_spec import SpecValidator
from tests.support.timing import WAIT_SECONDS

APP_ID = "900000000000000001"
GUILD_ID = "900000000000000002"
CHANNEL_ID = "900000000000000003"
DM_CHANNEL_ID = "900000000000000004"
USER_ID = "900000000000000005"
# A second server, to check that one server never sees another's documents.
GUILD_B_ID = "900000000000000006"
CHANNEL_B_ID = "900000000000000007"
# A public and a private thread in the first server's channel.
THREAD_ID = "900000000000000008"
PRIVATE_THREAD_ID = "900000000000000009"
# Resolved permissions: the default member may use commands but not manage the server.
MEMBER_PERMISSIONS = "2248473465835073"
ADMIN_PERMISSIONS = str(int(MEMBER_PERMISSIONS) | 1 << 5)  # MANAGE_GUILD
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
# The privileged intent, and the application flags that say the portal grants it.
MESSAGE_CONTENT_INTENT = 1 << 15
MESSAGE_CONTENT_FLAG = 1 << 18
MESSAGE_CONTENT_LIMITED_FLAG = 1 << 19
TIMESTAMP = "2026-11-24T12:00:00.000000+00:00"
# Snowflakes count milliseconds from Discord's epoch (2015); permission bits a reader needs.
DISCORD_EPOCH_MS = 1420070400000
VIEW_CHANNEL = 1 << 10
READ_MESSAGE_HISTORY = 1 << 16


def shard_for(guild_id: str, count: int) -> int:
    """Return the shard that Discord sends a server's events on."""
    return (int(guild_id) >> 22) % count


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
    files: dict[str, bytes] = field(default_factory=dict)


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
    # Misbehaviour on demand: a close code for every IDENTIFY, a gateway that refuses
    # connections, a revoked token (401 on every authorised request), channels where the
    # bot may not post (403).
    close_on_identify: int | None = None
    gateway_down: bool = False
    token_revoked: bool = False
    forbidden_channels: set[str] = field(default_factory=set)
    # What arrived at the gateway, in order: "IDENTIFY", "RESUME" or "refused".
    gateway_log: list[str] = field(default_factory=list)
    # Ways the events the fake sent break Discord's spec; tests expect none.
    event_errors: list[str] = field(default_factory=list)
    # Sharding: what GET /gateway/bot recommends, and the IDENTIFYs per 5 s it allows.
    recommended_shards: int = 1
    max_concurrency: int = 1
    # Each IDENTIFY's shard as (id, count), with when it came; (0, 1) when none was sent.
    identifies: list[tuple[int, int, float]] = field(default_factory=list)
    # Each event sent on a connection, as (event, shard id), to see where it was routed.
    deliveries: list[tuple[str, int]] = field(default_factory=list)
    # The shard of each session resumed, in order.
    resumed: list[int] = field(default_factory=list)
    # The application's flags (GET /oauth2/applications/@me, READY): what the portal grants;
    # by default Message Content, as for a bot (in under 100 servers) whose owner ticked it.
    app_flags: int = MESSAGE_CONTENT_LIMITED_FLAG
    # The intents of each IDENTIFY, in order.
    identify_intents: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(910000000000000000)
        self._sequence = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self.changed = asyncio.Condition()
        self.cdn: dict[str, tuple[bytes, str]] = {}
        self.redirects: dict[str, str] = {}
        self.threads: dict[str, dict[str, Any]] = {}
        # Channels and threads created during a test, by server: a later GUILD_CREATE (after a
        # new IDENTIFY) lists them, as Discord's does.
        self.created: dict[str, dict[str, dict[str, Any]]] = {}
        self._shard_of: dict[int, tuple[int, int]] = {}
        self._sessions: dict[str, tuple[int, int]] = {}
        # As Discord does, each session keeps what it was sent, and a RESUME replays what
        # came after the client's last sequence number: an event sent while a client was
        # reconnecting (its loop was busy, its socket went stale) is delivered late, not lost.
        self._session_of: dict[int, str] = {}
        self._session_socket: dict[str, web.WebSocketResponse] = {}
        self._backlog: dict[str, list[dict[str, Any]]] = {}

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        app.router.add_get("/attachments/{tail:.*}", self._attachment)
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
    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:
            await self._note_gateway("refused")
            return web.Response(status=503)
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
                shard_id, count = (payload["d"].get("shard") or [0, 1])[:2]
                self._shard_of[id(socket)] = (shard_id, count)
                self.identifies.append((shard_id, count, time.monotonic()))
                self.identify_intents.append(int(payload["d"].get("intents", 0)))
                await self._note_gateway("IDENTIFY")
                if self.close_on_identify is not None:
                    await socket.close(code=self.close_on_identify)
                    break
                if self._privileged_refused(self.identify_intents[-1]):
                    await socket.close(code=4014)  # Disallowed intent(s), as Discord says it
                    break
                guilds = [g for g in (GUILD_ID, GUILD_B_ID) if shard_for(g, count) == shard_id]
                # A session of its own per IDENTIFY, so that a RESUME finds its shard again.
                session = f"fake-session-{len(self.identifies)}"
                self._forget_closed_sessions((shard_id, count))
                self._sessions[session] = (shard_id, count)
                self._attach(socket, session)
                ready = self._ready(guilds, payload["d"].get("shard"))
                await self._send(socket, "READY", {**ready, "session_id": session})
                for guild in (self._guild(), self._guild(GUILD_B_ID, CHANNEL_B_ID)):
                    if guild["id"] not in guilds:
                        continue
                    self.event_errors.extend(self.event_problems("GUILD_CREATE", guild))
                    await self._send(socket, "GUILD_CREATE", guild)
                self.identified.set()
            elif payload["op"] == 6:
                # A client whose connection went stale (its loop was busy) resumes its session.
                session = payload["d"].get("session_id")
                if session not in self._sessions:
                    # Discord refuses to resume a session it does not know: start a new one.
                    await socket.send_json({"op": 9, "d": False})
                    await self._note_gateway("INVALID_SESSION")
                    continue
                self._shard_of[id(socket)] = self._sessions[session]
                self._attach(socket, session)
                self.resumed.append(self._shard_of[id(socket)][0])
                last = int(payload["d"].get("seq") or 0)
                for missed in [p for p in self._backlog[session] if p["s"] > last]:
                    self.deliveries.append((missed["t"], self._sessions[session][0]))
                    await socket.send_json(missed)
                await self._send(socket, "RESUMED", {})
                await self._note_gateway("RESUME")
        return socket

    def _attach(self, socket: web.WebSocketResponse, session: str) -> None:
        """Make `socket` the connection that carries `session` from now on."""
        self._session_of[id(socket)] = session
        self._session_socket[session] = socket
        self._backlog.setdefault(session, [])

    def _forget_closed_sessions(self, shard: tuple[int, int]) -> None:
        """Drop the sessions of a shard whose client gave up on them and IDENTIFYed anew."""
        for session, owner in list(self._sessions.items()):
            if owner == shard and self._session_socket[session].closed:
                del self._sessions[session], self._session_socket[session]
                del self._backlog[session]

    def _privileged_refused(self, intents: int) -> bool:
        """Whether an IDENTIFY asks for Message Content that the application was not granted."""
        granted = self.app_flags & (MESSAGE_CONTENT_FLAG | MESSAGE_CONTENT_LIMITED_FLAG)
        return bool(intents & MESSAGE_CONTENT_INTENT) and not granted

    async def _note_gateway(self, what: str) -> None:
        async with self.changed:
            self.gateway_log.append(what)
            self.changed.notify_all()

    async def wait_for_gateway(
        self, what: str, count: int = 1, timeout: float = WAIT_SECONDS
    ) -> None:
        """Wait until the gateway has seen `what` ("IDENTIFY", "RESUME", "refused") `count` times."""

        async def seen() -> None:
            async with self.changed:
                while self.gateway_log.count(what) < count:
                    await self.changed.wait()

        await asyncio.wait_for(seen(), timeout)

    async def drop_connections(self, code: int = 1001) -> None:
        """Close every open gateway connection, as a network fault or a Discord restart does."""
        for socket in self._sockets:
            if not socket.closed:
                await socket.close(code=code)

    async def settle(self, beats: int = 3, timeout: float = WAIT_SECONDS) -> None:
        """Wait for a few fresh heartbeats on an open socket: the connection is live again."""
        # Heartbeats queued while the client's loop was blocked arrive at once; only a steady
        # run of them shows that any reconnect (stale-connection close, RESUME) is over.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = len(self.heartbeats)
            await asyncio.sleep(self.heartbeat_interval_ms / 1000 * beats)
            live = any(not socket.closed for socket in self._sockets)
            if live and len(self.heartbeats) - seen >= beats - 1:
                return
        raise TimeoutError("the client never heartbeat on a live connection")

    async def _send(self, socket: web.WebSocketResponse, event: str, data: Any) -> None:
        self.deliveries.append((event, self._shard_of.get(id(socket), (0, 1))[0]))
        payload = {"op": 0, "t": event, "s": next(self._sequence), "d": data}
        session = self._session_of.get(id(socket))
        if session in self._backlog:
            self._backlog[session].append(payload)
        # A socket closed under us loses nothing: a RESUME replays the event from the backlog.
        with contextlib.suppress(ConnectionResetError):
            await socket.send_json(payload)

    def _hold(self, session: str, event: str, data: Any) -> None:
        """Keep an event for a session with no open connection, for its RESUME to replay."""
        self._backlog[session].append({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def dispatch(
        self, event: str, data: dict[str, Any], *, check: bool = True, shard: int | None = None
    ) -> None:
        """Send a gateway event to the clients of its shard (unchecked, to send a broken one).

        `shard` sends it on another shard's connection instead, as when a server has moved.
        """
        if check:
            self.event_errors.extend(self.event_problems(event, data))
        self._remember(event, data)
        for socket in self._sockets:
            if not socket.closed and self._routes_to(self._shard_of_socket(socket), data, shard):
                await self._send(socket, event, data)
        for session, owner in self._sessions.items():
            if self._session_socket[session].closed and self._routes_to(owner, data, shard):
                self._hold(session, event, data)

    def _remember(self, event: str, data: dict[str, Any]) -> None:
        """Keep the channels and threads an event creates or deletes for later GUILD_CREATEs."""
        # A deliberately broken event (dispatched unchecked) may lack these: it is not kept.
        if not isinstance(data, dict) or "guild_id" not in data or "id" not in data:
            return
        kept = self.created.setdefault(str(data["guild_id"]), {})
        if event in ("CHANNEL_CREATE", "CHANNEL_UPDATE", "THREAD_CREATE", "THREAD_UPDATE"):
            kept[str(data["id"])] = {k: v for k, v in data.items() if k != "newly_created"}
        elif event in ("CHANNEL_DELETE", "THREAD_DELETE"):
            kept.pop(str(data["id"]), None)

    def _shard_of_socket(self, socket: web.WebSocketResponse) -> tuple[int, int]:
        return self._shard_of.get(id(socket), (0, 1))

    def _routes_to(self, owner: tuple[int, int], data: dict[str, Any], shard: int | None) -> bool:
        """Whether Discord sends this event to this shard: its server's, or 0 for DMs."""
        shard_id, count = owner
        if shard is not None:
            return shard == shard_id
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        return (shard_for(str(guild_id), count) if guild_id else 0) == shard_id

    async def wait_for_identify(self, shard_id: int, timeout: float = WAIT_SECONDS) -> None:
        """Wait until some client has IDENTIFYed with this shard id."""

        async def seen() -> None:
            async with self.changed:
                while not any(shard == shard_id for shard, _, _ in self.identifies):
                    await self.changed.wait()

        await asyncio.wait_for(seen(), timeout)

    def event_problems(self, event: str, data: dict[str, Any]) -> list[str]:
        """Return the ways the channels and threads in an event break Discord's spec."""
        channels: list[dict[str, Any]] = []
        if event == "GUILD_CREATE":
            channels = data.get("channels", []) + data.get("threads", [])
        elif event in ("CHANNEL_CREATE", "CHANNEL_UPDATE", "THREAD_CREATE", "THREAD_UPDATE"):
            channels = [data]
        elif event == "INTERACTION_CREATE" and "channel" in data:
            channels = [data["channel"]]
        problems = []
        for channel in channels:
            schema = (
                "ThreadResponse" if channel.get("type") in (10, 11, 12) else "GuildChannelResponse"
            )
            problems += [f"{event}: {p}" for p in self.validator.schema_errors(schema, channel)]
        return problems

    def _ready(
        self, guilds: list[str] | None = None, shard: list[int] | None = None
    ) -> dict[str, Any]:
        ready: dict[str, Any] = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [
                {"id": guild, "unavailable": True}
                for guild in ([GUILD_ID, GUILD_B_ID] if guilds is None else guilds)
            ],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": APP_ID, "flags": self.app_flags},
            "private_channels": [],
            "relationships": [],
        }
        if shard is not None:
            ready["shard"] = shard
        return ready

    def _guild(self, guild_id: str = GUILD_ID, channel_id: str = CHANNEL_ID) -> dict[str, Any]:
        everyone = {
            "id": guild_id,
            "name": "@everyone",
            "permissions": "2248473465835073",
            "position": 0,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }
        channel = self.channel(channel_id, guild_id)
        threads = (
            [self._thread(THREAD_ID, "questions"), self._thread(PRIVATE_THREAD_ID, "staff", 12)]
            if guild_id == GUILD_ID
            else []
        )
        later = list(self.created.get(guild_id, {}).values())
        member = {
            "user": BOT_USER,
            "roles": [],
            "joined_at": TIMESTAMP,
            "deaf": False,
            "mute": False,
            "flags": 0,
        }
        return {
            "id": guild_id,
            "name": "Test server" if guild_id == GUILD_ID else "Other server",
            "icon": None,
            "owner_id": USER_ID,
            "roles": [everyone],
            "emojis": [],
            "stickers": [],
            "features": [],
            "channels": [channel, *(c for c in later if c["type"] not in (10, 11, 12))],
            "threads": threads + [c for c in later if c["type"] in (10, 11, 12)],
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

    def channel(
        self,
        channel_id: str,
        guild_id: str = GUILD_ID,
        *,
        name: str = "general",
        overwrites: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A text channel as Discord sends it in GUILD_CREATE and CHANNEL_CREATE."""
        return {
            "id": channel_id,
            "type": 0,
            "name": name,
            "position": 0,
            "flags": 0,
            "permission_overwrites": overwrites or [],
            "guild_id": guild_id,
            "nsfw": False,
        }

    def forum(self, channel_id: str, *, name: str = "help") -> dict[str, Any]:
        """A forum channel (type 15) in the test server, as CHANNEL_CREATE carries it."""
        forum = {**self.channel(channel_id, name=name), "type": 15}
        return {
            **forum,
            "available_tags": [],
            "default_sort_order": None,
            "default_forum_layout": 0,
        }

    def forum_post(self, forum_id: str, title: str) -> dict[str, Any]:
        """A new post in a forum: a public thread whose first message will have its id."""
        return {**self._thread(self.snowflake(), title, parent_id=forum_id), "owner_id": USER_ID}

    def _thread(
        self, thread_id: str, name: str, kind: int = 11, *, parent_id: str = CHANNEL_ID
    ) -> dict[str, Any]:
        """A public (type 11) or private (type 12) thread in one of the test server's channels."""
        return {
            "id": thread_id,
            "type": kind,
            "guild_id": GUILD_ID,
            "parent_id": parent_id,
            "owner_id": APP_ID,
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "total_message_sent": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": TIMESTAMP,
                "locked": False,
                "create_timestamp": TIMESTAMP,
            },
        }

    # -- CDN -----------------------------------------------------------------------------
    def attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str = "text/plain",
        *,
        size: int | None = None,
    ) -> dict[str, Any]:
        """Serve bytes as an uploaded attachment; return its object for `resolved.attachments`."""
        attachment_id = self.snowflake()
        path = f"/attachments/{CHANNEL_ID}/{attachment_id}/{filename}"
        self.cdn[path] = (data, content_type)
        url = f"http://127.0.0.1:{self.port}{path}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }

    async def _attachment(self, request: web.Request) -> web.Response:
        if request.path in self.redirects:
            raise web.HTTPFound(self.redirects[request.path])
        found = self.cdn.get(request.path)
        if found is None:
            return web.Response(status=404)
        data, content_type = found
        return web.Response(body=data, headers={"Content-Type": content_type})

    # -- REST ----------------------------------------------------------------------------
    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
        # discord.py only parses bodies whose content type is exactly application/json.
        return web.Response(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def _refused(self, request: web.Request, path: str) -> web.Response | None:
        """Answer 401 to the bot's token once it is revoked, and 403 in forbidden channels."""
        if self.token_revoked and "Authorization" in request.headers:
            return self._json({"message": "401: Unauthorized", "code": 0}, 401)
        parts = path.strip("/").split("/")
        if (
            request.method == "POST"
            and parts[0] == "channels"
            and parts[1] in self.forbidden_channels
        ):
            return self._json({"message": "Missing Permissions", "code": 50013}, 403)
        return None

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
        files: dict[str, bytes] = {}
        content_type = request.headers.get("Content-Type", "")
        if request.can_read_body:
            if content_type.startswith("multipart/"):
                reader = await request.multipart()
                async for part in reader:
                    name = getattr(part, "name", None)
                    if name == "payload_json":
                        body = json.loads(await part.text())  # type: ignore[union-attr]
                    elif name:
                        files[name] = bytes(await part.read())  # type: ignore[union-attr]
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
            media = "multipart/form-data" if content_type.startswith("multipart/") else None
            self.spec_errors.extend(
                self.validator.errors(request.method, path, body, media=media, files=files)
            )
        refused = self._refused(request, path)
        if refused is not None:
            return refused
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
                    "flags": self.app_flags,
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
                    "shards": self.recommended_shards,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000,
                        "reset_after": 0,
                        "max_concurrency": self.max_concurrency,
                    },
                }
            )
        if parts[0] == "applications" and parts[-1] == "commands" and method == "PUT":
            # Discord answers with every command's description, "" for context menus.
            commands = [
                {"description": "", **c, "id": self.snowflake(), "application_id": APP_ID}
                | {"version": "1"}
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
        if parts[0] == "channels" and parts[-1] == "threads" and method == "POST":
            thread = self._thread(self.snowflake(), (body or {}).get("name") or "thread")
            thread["id"] = parts[3]  # a thread started from a message takes the message's id
            self.threads[thread["id"]] = thread
            return self._json(thread, 201)
        if parts[0] == "channels" and parts[-1] == "messages" and method == "POST":
            return self._json(self._message(body, parts[1]))
        if parts[0] == "channels" and parts[-1] == "messages" and method == "GET":
            return self._json(self.history_page(parts[1], query))
        return self._json({"message": "404: Not Found", "code": 0}, 404)

    # -- channel history and who may read a channel (channel documents) -----------------
    # Each channel's messages, oldest first, as GET /channels/{id}/messages serves them.
    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def posted(
        self,
        channel_id: str,
        content: str,
        *,
        at: datetime,
        author: dict[str, Any] | None = None,
        attachments: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Put a message in a channel's history, its id made from `at` as Discord's are."""
        stamp = int(at.timestamp() * 1000 - DISCORD_EPOCH_MS) << 22
        message = self.message(content, mentions_bot=False, channel_id=channel_id)
        message["id"] = str(stamp + next(self._ids) % 4096)
        message["timestamp"] = at.isoformat()
        message["author"] = author or USER
        message["attachments"] = attachments or []
        self.histories.setdefault(channel_id, []).append(message)
        self.histories[channel_id].sort(key=lambda m: int(m["id"]))
        return message

    def history_page(self, channel_id: str, query: Any) -> list[dict[str, Any]]:
        """Serve a page of history as Discord does: up to `limit`, newest first."""
        messages = self.histories.get(channel_id, [])
        limit = min(int(query.get("limit", 50)), 100)
        if "after" in query:
            after = [m for m in messages if int(m["id"]) > int(query["after"])]
            return list(reversed(after[:limit]))
        if "before" in query:
            messages = [m for m in messages if int(m["id"]) < int(query["before"])]
        return list(reversed(messages[-limit:]))

    def private_channel(
        self, channel_id: str, *, readers: list[str], name: str = "staff-notes"
    ) -> dict[str, Any]:
        """A text channel that only the given members (and the owner) may see and read back."""
        read = str(VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        overwrites = [{"id": GUILD_ID, "type": 0, "allow": "0", "deny": read}] + [
            {"id": member, "type": 1, "allow": read, "deny": "0"} for member in readers
        ]
        return self.channel(channel_id, name=name, overwrites=overwrites)

    @staticmethod
    def resolved_channel(channel: dict[str, Any], permissions: str) -> dict[str, Any]:
        """The channel of a channel option, as `resolved.channels` carries it."""
        keys = ("id", "type", "name", "guild_id", "position", "flags", "nsfw")
        return {**{k: channel[k] for k in keys if k in channel}, "permissions": permissions}

    # -- helpers for tests ---------------------------------------------------------------
    async def wait_for(self, predicate: Any, timeout: float = WAIT_SECONDS) -> list[Recorded]:
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
        guild_id: str = GUILD_ID,
        permissions: str = MEMBER_PERMISSIONS,
        resolved: dict[str, Any] | None = None,
        kind: int = 2,
    ) -> dict[str, Any]:
        """Build an INTERACTION_CREATE payload for a slash command (or autocomplete: kind 4)."""
        channel_id = CHANNEL_ID if guild_id == GUILD_ID else CHANNEL_B_ID
        data: dict[str, Any] = {"id": self.snowflake(), "name": name, "type": 1}
        data["options"] = options or []
        if resolved:
            data["resolved"] = resolved
        return {
            "id": self.snowflake(),
            "application_id": APP_ID,
            "type": kind,
            "token": f"token-{self.snowflake()}",
            "version": 1,
            "data": data,
            "guild_id": guild_id,
            "channel_id": channel_id,
            # A partial channel, as Discord sends it: discord.py builds a channel from it
            # when the server is not cached, and needs every required field.
            "channel": {
                "id": channel_id,
                "type": 0,
                "guild_id": guild_id,
                "name": "general",
                "position": 0,
                "flags": 0,
                "permissions": permissions,
            },
            "member": {
                "user": user or USER,
                "roles": [],
                "joined_at": TIMESTAMP,
                "deaf": False,
                "mute": False,
                "flags": 0,
                # The member's permissions in the channel, resolved by Discord.
                "permissions": permissions,
            },
            "app_permissions": MEMBER_PERMISSIONS,
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id},
            "context": 0,
            "attachment_size_limit": 26214400,
        }

    def context_menu(
        self, name: str, target: dict[str, Any], *, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Build a message context-menu interaction (command type 3) on a target message."""
        payload = self.interaction(name, user=user)
        payload["data"] = {
            "id": self.snowflake(),
            "name": name,
            "type": 3,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        return payload

    def message(
        self,
        content: str,
        *,
        mentions_bot: bool = True,
        dm: bool = False,
        channel_id: str = CHANNEL_ID,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Build a MESSAGE_CREATE payload from the test user."""
        data: dict[str, Any] = {
            "id": self.snowflake(),
            "channel_id": DM_CHANNEL_ID if dm else channel_id,
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
