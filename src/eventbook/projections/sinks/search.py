"""Full-text search read models: SQLite FTS5 or PostgreSQL tsvector + GIN, ranked.

One index holds documents: an id, up to four weighted text fields, and a JSON `data`
object returned with each hit. Handlers index and remove documents through the batch;
the writes commit with the checkpoint like any SQL read model::

    sink = SearchSink(db, index="order_search", fields={"customer": 2.0, "items": 1.0})

    def placed(event, batch: SearchBatch) -> None:
        batch.index(event.stream, {"customer": ..., "items": ...}, data={"total": ...})

    hits = await sink.search("ada lovel")        # every term must match, as a prefix

Ranking: BM25 with the field weights (SQLite), `ts_rank_cd` with the same weights
(PostgreSQL); a higher `score` is a better hit. Builds are versioned like SQL tables;
PostgreSQL readers go through a view, SQLite readers through a pointer row, both
swapped atomically with the build's activation.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from eventbook._errors import ValidationError
from eventbook.projections._buffer import WriteBuffer
from eventbook.projections._ports import ProjectionDatabase, Session
from eventbook.projections.sinks.sql import SqlBatch, TableNames, check_identifier, versioned

POINTERS = "eventbook_search_active"
_TERM = re.compile(r"\w+", re.UNICODE)


def _words(text: str | None) -> str | None:
    """Text as the words a query is split into, without accents: PostgreSQL's parser would
    otherwise keep an e-mail address, a URL or "3.14" as one token that no query term
    could match, and would tell "cafe" from "café", which SQLite's tokenizer does not."""
    return None if text is None else " ".join(_terms(text))


def _terms(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", text)
    return _TERM.findall("".join(c for c in folded if not unicodedata.combining(c)))


_LETTERS = "ABCD"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode


@dataclass(frozen=True)
class SearchHit:
    doc_id: str
    score: float
    data: dict[str, Any]


class SearchBatch(SqlBatch):
    """A SQL batch that also indexes and removes documents."""

    __slots__ = ("_fields", "_footprint", "_remove_sql", "_upsert_sql")

    def __init__(
        self, session: Session, names: TableNames, sink: SearchSink, *, out_of_order: bool
    ) -> None:
        super().__init__(session, names, out_of_order=out_of_order)
        self._fields = sink.fields
        self._upsert_sql, self._remove_sql = sink.statements(names.version)
        self._footprint = frozenset(names.mapping.values())

    def index(
        self, doc_id: str, fields: Mapping[str, str | None], data: Mapping[str, Any] | None = None
    ) -> None:
        """Add or replace a document (idempotent: keyed by `doc_id`)."""
        unknown = set(fields) - set(self._fields)
        if unknown:
            raise ValidationError(
                f"unknown search fields {sorted(unknown)}; declared: {self._fields}"
            )
        values = [_words(fields.get(name)) for name in self._fields]
        row = (doc_id, *values, _encode(dict(data or {})).decode())
        self.buffer.add(self._upsert_sql, row, self._footprint)

    def remove(self, doc_id: str) -> None:
        self.buffer.add(self._remove_sql, (doc_id,), self._footprint)


class SearchSink:
    """A full-text index in the projection database."""

    commits_with_checkpoint = True
    """Writes commit with the checkpoint: a partitioned projection may use this sink."""

    def __init__(
        self,
        database: ProjectionDatabase,
        *,
        index: str,
        fields: Mapping[str, float] | Sequence[str],
        language: str = "simple",
    ) -> None:
        if database.dialect not in ("sqlite", "postgresql"):
            raise ValidationError(f"SearchSink needs a SQL database, not {database.dialect!r}")
        weights = dict(fields) if isinstance(fields, Mapping) else dict.fromkeys(fields, 1.0)
        if not 1 <= len(weights) <= 4:
            raise ValidationError("a search index has one to four text fields")
        if not all(isinstance(w, int | float) and w > 0 for w in weights.values()):
            raise ValidationError(f"field weights must be positive numbers, not {weights}")
        self._database = database
        self.index = check_identifier("index name", index)
        self.fields = tuple(check_identifier("field name", f) for f in weights)
        self.weights = tuple(float(weights[f]) for f in self.fields)
        self.language = check_identifier("language", language)
        self._names: dict[int, TableNames] = {}
        self._statements: dict[int, tuple[str, str]] = {}

    @property
    def database(self) -> ProjectionDatabase:
        return self._database

    @property
    def _pg(self) -> bool:
        return self._database.dialect == "postgresql"

    def names(self, version: int) -> TableNames:
        if version not in self._names:
            self._names[version] = TableNames([self.index], version, dialect=self._database.dialect)
        return self._names[version]

    def statements(self, version: int) -> tuple[str, str]:
        """(upsert, remove) for one build."""
        if version not in self._statements:
            table = versioned(self.index, version)
            columns = ", ".join(("doc_id", *self.fields, "data"))
            if self._pg:
                count = len(self.fields) + 1
                marks = ", ".join([*(f"${n}" for n in range(1, count + 1)), f"${count + 1}::jsonb"])
                remove = f"DELETE FROM {table} WHERE doc_id = $1"
            else:
                marks = ", ".join("?" * (len(self.fields) + 2))
                remove = f"DELETE FROM {table} WHERE doc_id = ?"
            updates = ", ".join(f"{c} = excluded.{c}" for c in (*self.fields, "data"))
            upsert = (
                f"INSERT INTO {table} ({columns}) VALUES ({marks})"
                f" ON CONFLICT (doc_id) DO UPDATE SET {updates}"
            )
            self._statements[version] = (upsert, remove)
        return self._statements[version]

    def begin(self, session: Session, version: int, *, out_of_order: bool = False) -> SearchBatch:
        return SearchBatch(session, self.names(version), self, out_of_order=out_of_order)

    async def flush(self, batch: SearchBatch) -> WriteBuffer:
        return batch.buffer

    # -- DDL -----------------------------------------------------------------------------------

    def create_ddl(self, version: int) -> list[str]:
        table = versioned(self.index, version)
        if self._pg:
            vector = " || ".join(
                f"setweight(to_tsvector('{self.language}'::regconfig, coalesce({f}, '')),"
                f" '{_LETTERS[n]}')"
                for n, f in enumerate(self.fields)
            )
            text = ", ".join(f"{f} TEXT" for f in self.fields)
            return [
                f"CREATE TABLE {table} (doc_id TEXT PRIMARY KEY, {text},"
                f" data JSONB NOT NULL DEFAULT '{{}}',"
                f" document tsvector GENERATED ALWAYS AS ({vector}) STORED)",
                f"CREATE INDEX {table}_document ON {table} USING GIN (document)",
            ]
        fts = f"{table}_fts"
        cols = ", ".join(self.fields)
        new = ", ".join(f"new.{f}" for f in self.fields)
        old = ", ".join(f"old.{f}" for f in self.fields)
        tokenizer = "porter unicode61 remove_diacritics 2"
        if self.language == "simple":
            tokenizer = "unicode61 remove_diacritics 2"
        delete = f"INSERT INTO {fts}({fts}, rowid, {cols}) VALUES ('delete', old.rowid, {old});"
        insert = f"INSERT INTO {fts}(rowid, {cols}) VALUES (new.rowid, {new});"
        return [
            f"CREATE TABLE IF NOT EXISTS {POINTERS} (index_name TEXT PRIMARY KEY, version INTEGER)",
            f"CREATE TABLE {table} (rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE,"
            f" {', '.join(f'{f} TEXT' for f in self.fields)}, data TEXT NOT NULL DEFAULT '{{}}')",
            f"CREATE VIRTUAL TABLE {fts} USING fts5({cols}, content='{table}',"
            f" content_rowid='rowid', tokenize='{tokenizer}')",
            f"CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN {insert} END",
            f"CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN {delete} END",
            f"CREATE TRIGGER {table}_au AFTER UPDATE ON {table} BEGIN {delete} {insert} END",
        ]

    def activate_ddl(self, version: int) -> list[str]:
        if self._pg:
            return [
                f"DROP VIEW IF EXISTS {self.index}",
                f"CREATE VIEW {self.index} AS SELECT * FROM {versioned(self.index, version)}",
            ]
        return [f"INSERT OR REPLACE INTO {POINTERS} VALUES ('{self.index}', {int(version)})"]

    def reset_ddl(self, version: int) -> list[str]:
        return self.drop_ddl(version) + self.create_ddl(version)

    def drop_ddl(self, version: int) -> list[str]:
        table = versioned(self.index, version)
        if self._pg:
            return [f"DROP TABLE IF EXISTS {table} CASCADE"]
        return [f"DROP TABLE IF EXISTS {table}_fts", f"DROP TABLE IF EXISTS {table}"]

    async def clear(self, version: int, epoch: int) -> None:
        return None

    # -- reading -------------------------------------------------------------------------------

    async def search(self, text: str, *, limit: int = 20, prefix: bool = True) -> list[SearchHit]:
        """Documents matching every term of `text`, best first. Punctuation and accents
        are ignored."""
        terms = [t.lower() for t in _terms(text)]
        if not terms:
            return []
        if self._pg:
            query = " & ".join(f"{t}:*" if prefix else t for t in terms)
            rows = await self._database.fetch(
                f"SELECT doc_id, data::text, ts_rank_cd($1::float4[], document, q) AS score"
                f" FROM {self.index}, to_tsquery('{self.language}'::regconfig, $2) q"
                " WHERE document @@ q ORDER BY score DESC, doc_id LIMIT $3",
                (self._pg_weights(), query, limit),
            )
            return [SearchHit(r[0], float(r[2]), _decode(r[1])) for r in rows]
        match = " ".join('"' + t.replace('"', '""') + '"' + ("*" if prefix else "") for t in terms)
        for _ in range(3):
            rows = await self._database.fetch(
                f"SELECT version FROM {POINTERS} WHERE index_name = ?", (self.index,)
            )
            if not rows:
                return []
            try:
                return await self._search_sqlite(int(rows[0][0]), match, limit)
            except sqlite3.OperationalError as error:
                # The build we looked up was switched out and dropped in between.
                if "no such table" not in str(error):
                    raise
        raise RuntimeError(f"search index {self.index!r} keeps changing under the reader")

    async def _search_sqlite(self, version: int, match: str, limit: int) -> list[SearchHit]:
        table = versioned(self.index, version)
        weights = ", ".join(str(w) for w in self.weights)
        rows = await self._database.fetch(
            f"SELECT d.doc_id, d.data, -bm25({table}_fts, {weights}) AS score"
            f" FROM {table}_fts JOIN {table} d ON d.rowid = {table}_fts.rowid"
            f" WHERE {table}_fts MATCH ? ORDER BY score DESC, d.doc_id LIMIT ?",
            (match, limit),
        )
        return [SearchHit(r[0], float(r[2]), _decode(r[1])) for r in rows]

    def _pg_weights(self) -> list[float]:
        # ts_rank_cd takes weights in [0, 1], in the order {D, C, B, A}; field n has
        # letter n. Only the ratios matter for the ranking.
        top = max(self.weights) or 1.0
        letters = dict(zip(_LETTERS, (w / top for w in self.weights), strict=False))
        return [letters.get(letter, 0.0) for letter in reversed(_LETTERS)]
