"""Check request bodies against Discord's OpenAPI spec and Discord's own message limits."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parents[3] / "shared" / "discord-api-spec" / "openapi.json"
BASE_URI = "urn:discord-openapi"

CONTENT_LIMIT = 2000
EMBEDS_LIMIT = 10
EMBED_TOTAL_LIMIT = 6000
FIELD_LIMITS = {"title": 256, "description": 4096}
FIELDS_LIMIT = 25
ATTACHMENT_LIMIT = 10 * 1024 * 1024


def _snowflakes_as_strings(value: Any, key: str = "") -> Any:
    """Discord accepts integer snowflakes that its spec types as strings; let them through."""
    if isinstance(value, dict):
        return {k: _snowflakes_as_strings(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_snowflakes_as_strings(v, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and key.endswith("id"):
        return str(value)
    return value


class SpecValidator:
    """Find the operation for a request and validate its JSON body."""

    def __init__(self, spec: dict[str, Any]) -> None:
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(BASE_URI, resource)
        self._spec = spec
        self._routes: list[tuple[re.Pattern[str], str]] = []
        for template in spec["paths"]:
            pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template))
            self._routes.append((re.compile(f"^{pattern}$"), template))
        # Literal segments (@original) must win over placeholders ({message_id}).
        self._routes.sort(key=lambda route: route[1].count("{"))

    def schema_errors(self, name: str, value: Any) -> list[str]:
        """Return every way a value breaks one of the spec's named schemas."""
        validator = Draft202012Validator(
            {"$ref": f"{BASE_URI}#/components/schemas/{name}"}, registry=self._registry
        )
        return [
            f"{name}: {error.message[:300]} at {list(error.absolute_path)}"
            for error in validator.iter_errors(_snowflakes_as_strings(value))
        ]

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """Return the path template and operation object for a request, if the spec has it."""
        for pattern, template in self._routes:
            if pattern.match(path):
                operation = self._spec["paths"][template].get(method.lower())
                if operation is not None:
                    return template, operation
        return None

    def errors(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        media: str | None = None,
        files: dict[str, bytes] | None = None,
    ) -> list[str]:
        """Return every way the body breaks the spec (an unknown route is itself an error)."""
        found = self.operation(method, path)
        if found is None:
            return [f"{method} {path} is not an operation in Discord's spec"]
        template, operation = found
        content = operation.get("requestBody", {}).get("content", {})
        media = media or "application/json"
        if media not in content:
            return [] if body is None and not files else [f"{method} {template} takes no {media}"]
        if media == "multipart/form-data":
            # Form fields: the JSON payload's keys beside one binary field per file.
            body = {**(body or {}), **{name: "<binary>" for name in files or {}}}
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in (
                "paths",
                template,
                method.lower(),
                "requestBody",
                "content",
                media,
                "schema",
            )
        )
        validator = Draft202012Validator(
            {"$ref": f"{BASE_URI}#/{pointer}"}, registry=self._registry
        )
        problems = [
            f"{method} {template}: {error.message[:300]} at {list(error.absolute_path)}"
            for error in validator.iter_errors(_snowflakes_as_strings(body))
        ]
        if media == "multipart/form-data":
            problems += upload_errors(body, files or {})
        return problems + limit_errors(body)


def upload_errors(body: Any, files: dict[str, bytes]) -> list[str]:
    """Return mismatches between file parts, the attachments list and attachment:// URLs."""
    problems = []
    numbers = set()
    for name, data in files.items():
        match = re.fullmatch(r"files\[(\d+)\]", name)
        if match is None:
            problems.append(f"file part named {name!r}, not files[n]")
            continue
        numbers.add(match.group(1))
        if len(data) > ATTACHMENT_LIMIT:
            problems.append(f"{name} is {len(data)} bytes (limit {ATTACHMENT_LIMIT})")
    for message in _message_parts(body):
        attachments = message.get("attachments") or []
        named = {str(a.get("id")): a.get("filename") for a in attachments if isinstance(a, dict)}
        for number in numbers - set(named):
            problems.append(f"files[{number}] has no entry in attachments")
        uploaded = {named[n] for n in numbers if n in named}
        for embed in message.get("embeds") or []:
            for key in ("image", "thumbnail"):
                url = (embed.get(key) or {}).get("url") or ""
                if url.startswith("attachment://") and url[len("attachment://") :] not in uploaded:
                    problems.append(f"embed {key} {url} names no uploaded file")
    return problems


def _message_parts(body: Any) -> list[dict[str, Any]]:
    """Return the message objects in a request body (callbacks nest theirs under data)."""
    if not isinstance(body, dict):
        return []
    if isinstance(body.get("data"), dict) and "type" in body:
        return [body["data"]]
    return [body]


def limit_errors(body: Any) -> list[str]:
    """Return breaches of Discord's documented limits that the spec cannot express."""
    problems = []
    for message in _message_parts(body):
        content = message.get("content")
        if isinstance(content, str) and len(content) > CONTENT_LIMIT:
            problems.append(f"content is {len(content)} characters (limit {CONTENT_LIMIT})")
        embeds = message.get("embeds") or []
        if len(embeds) > EMBEDS_LIMIT:
            problems.append(f"{len(embeds)} embeds (limit {EMBEDS_LIMIT})")
        total = 0
        for embed in embeds:
            for key, limit in FIELD_LIMITS.items():
                if len(embed.get(key) or "") > limit:
                    problems.append(f"embed {key} is {len(embed[key])} characters (limit {limit})")
            fields = embed.get("fields") or []
            if len(fields) > FIELDS_LIMIT:
                problems.append(f"{len(fields)} embed fields (limit {FIELDS_LIMIT})")
            total += len(embed.get("title") or "") + len(embed.get("description") or "")
            total += len((embed.get("footer") or {}).get("text") or "")
            total += len((embed.get("author") or {}).get("name") or "")
            total += sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields)
        if total > EMBED_TOTAL_LIMIT:
            problems.append(f"embeds hold {total} characters (limit {EMBED_TOTAL_LIMIT})")
    return problems


@lru_cache(maxsize=1)
def load_validator() -> SpecValidator:
    """Load the spec once per test session."""
    return SpecValidator(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
