"""Conversation history by id: in Redis (with TTL) when configured, else in this process."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from ragline.retrieval.types import Message

log = logging.getLogger(__name__)
MAX_TURNS = 20


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
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> list[Message]:
        if self._redis is not None:
            try:
                raw = self._redis.lrange(self.prefix + conversation_id, 0, -1)
                return [Message(**json.loads(item)) for item in raw]
            except Exception as exc:  # Redis down: fall back to what this process remembers
                log.warning("conversation store unavailable, using memory: %s", exc)
        with self._lock:
            entry = self._memory.get(conversation_id)
            if entry is None or (self.ttl_s and time.time() - entry[0] > self.ttl_s):
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
                pipe.execute()
                return
            except Exception as exc:
                log.warning("conversation store unavailable, using memory: %s", exc)
        with self._lock:
            _, history = self._memory.pop(conversation_id, (0.0, []))
            history = (history + list(messages))[-2 * MAX_TURNS :]
            self._memory[conversation_id] = (time.time(), history)
            while len(self._memory) > 10000:
                self._memory.popitem(last=False)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
