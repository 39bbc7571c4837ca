"""Conversation history by id: in Redis (with TTL) when configured, else in this process.

Ids are issued by the server (``create``: random, 144 bits) and belong to the caller that
created them; routes look the owner up before reading or appending, so a caller can neither
read nor extend another caller's conversation, nor pick an id of its own."""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from ragline.retrieval.types import Message

log = logging.getLogger(__name__)
MAX_TURNS = 20
MAX_IN_MEMORY = 10000
ID_PATTERN = r"^conv_[A-Za-z0-9_-]{24}$"
_ID = re.compile(ID_PATTERN)


class ConversationStore:
    def __init__(
        self, redis_url: str = "", ttl_s: int = 86400, prefix: str = "ragline:conv:"
    ) -> None:
        self.ttl_s = ttl_s
        self.prefix = prefix
        self._redis: Any = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(
                redis_url, socket_timeout=0.2, socket_connect_timeout=0.2
            )
        self._memory: OrderedDict[str, tuple[float, list[Message]]] = OrderedDict()
        self._owners: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def _expired(self, stamp: float) -> bool:
        return bool(self.ttl_s) and time.time() - stamp > self.ttl_s

    # -- ids --------------------------------------------------------------------------------
    def create(self, owner: str) -> str:
        """A new conversation id owned by ``owner``."""
        conversation_id = "conv_" + secrets.token_urlsafe(18)
        if self._redis is not None:
            try:
                self._redis.set(self.prefix + conversation_id + ":owner", owner, ex=self._ttl())
                return conversation_id
            except Exception as exc:
                log.warning("conversation store unavailable, using memory: %s", exc)
        with self._lock:
            self._owners[conversation_id] = (time.time(), owner)
            while len(self._owners) > MAX_IN_MEMORY:
                self._owners.popitem(last=False)
        return conversation_id

    def owner(self, conversation_id: str) -> str | None:
        """Who created ``conversation_id`` (None: unknown, expired or malformed)."""
        if not _ID.match(conversation_id):
            return None
        if self._redis is not None:
            try:
                value = self._redis.get(self.prefix + conversation_id + ":owner")
                if value is not None:
                    return bytes(value).decode("utf-8")
            except Exception as exc:
                log.warning("conversation store unavailable, using memory: %s", exc)
        with self._lock:
            entry = self._owners.get(conversation_id)
            if entry is None or self._expired(entry[0]):
                return None
            return entry[1]

    def _ttl(self) -> int | None:
        return self.ttl_s or None

    # -- history ----------------------------------------------------------------------------
    def get(self, conversation_id: str) -> list[Message]:
        if self._redis is not None:
            try:
                raw = self._redis.lrange(self.prefix + conversation_id, 0, -1)
                return [Message(**json.loads(item)) for item in raw]
            except Exception as exc:  # Redis down: fall back to what this process remembers
                log.warning("conversation store unavailable, using memory: %s", exc)
        with self._lock:
            entry = self._memory.get(conversation_id)
            if entry is None or self._expired(entry[0]):
                return []
            return list(entry[1])

    def append(self, conversation_id: str, *messages: Message) -> None:
        if self._redis is not None:
            try:
                key = self.prefix + conversation_id
                pipe = self._redis.pipeline()
                pipe.rpush(key, *[json.dumps(m.to_dict(), ensure_ascii=False) for m in messages])
                pipe.ltrim(key, -2 * MAX_TURNS, -1)
                if self.ttl_s:
                    pipe.expire(key, self.ttl_s)
                    pipe.expire(key + ":owner", self.ttl_s)
                pipe.execute()
                return
            except Exception as exc:
                log.warning("conversation store unavailable, using memory: %s", exc)
        with self._lock:
            _, history = self._memory.pop(conversation_id, (0.0, []))
            history = (history + list(messages))[-2 * MAX_TURNS :]
            self._memory[conversation_id] = (time.time(), history)
            owner = self._owners.pop(conversation_id, None)
            if owner is not None:
                self._owners[conversation_id] = (time.time(), owner[1])
            while len(self._memory) > MAX_IN_MEMORY:
                self._memory.popitem(last=False)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
