"""The request cache: SQLite, keyed by a hash of who answers and what was asked.

The key covers the endpoint (base URL without credentials or query, chat or completions),
the resolved model name, the messages or prompt, and the sampling parameters, so another
server or model is never answered from here. A re-run with the same inputs is answered
without a single request, which is also what makes re-asking an in-flight request after a
kill free. The key never includes the API key, and nothing but the reply is stored.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from curate.llm_types import Reply


class RequestCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

    @staticmethod
    def key(identity: dict[str, Any], messages: list[dict[str, str]], params: dict[str, Any], salt: str = "") -> str:
        payload = json.dumps([identity, messages, params, salt], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            # WAL + NORMAL: a commit costs microseconds and a crash loses at most the last few
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, reply TEXT NOT NULL)")
        return self._db

    def get(self, key: str) -> Reply | None:
        from curate.llm_types import Reply

        row = self._connection().execute("SELECT reply FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        return Reply(data["texts"], data["finish_reasons"], data.get("prompt_tokens", 0),
                     data.get("completion_tokens", 0), cached=True)

    def put(self, key: str, reply: Reply) -> None:
        data = {"texts": reply.texts, "finish_reasons": reply.finish_reasons,
                "prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
        self._connection().execute("INSERT OR REPLACE INTO replies VALUES (?, ?)",
                                   (key, json.dumps(data, ensure_ascii=False)))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
