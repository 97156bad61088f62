"""One placeholder convention for read-model SQL: `?`, numbered for PostgreSQL.

Handlers and readers write `?` for every parameter, on SQLite and PostgreSQL alike;
`numbered` turns them into PostgreSQL's `$1, $2, ...` in order. A `?` that is not a
parameter is left alone: inside a string literal (`'...'`, `E'...'`, `$$...$$`,
`$tag$...$tag$`), a quoted identifier (`"..."`) or a comment (`-- ...`, `/* ... */`).

A statement that already numbers its parameters (`$1`) is PostgreSQL's own and is
returned unchanged; that is also how to use PostgreSQL's `?` JSON operators.
"""

from __future__ import annotations

import functools

_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@functools.lru_cache(maxsize=4096)
def numbered(sql: str) -> str:
    """`sql` with each parameter `?` replaced by `$1`, `$2`, ... (see the module doc)."""
    if "?" not in sql:
        return sql
    out: list[str] = []
    count = 0
    i, end, copied = 0, len(sql), 0
    while i < end:
        char = sql[i]
        if char == "?":
            count += 1
            out.append(sql[copied:i])
            out.append(f"${count}")
            i += 1
            copied = i
        elif char == "'":
            escapes = i > 0 and sql[i - 1] in "eE" and (i < 2 or sql[i - 2] not in _WORD)
            i = _string_end(sql, i + 1, backslash=escapes)
        elif char == '"':
            i = _string_end(sql, i + 1, quote='"')
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = end if newline < 0 else newline + 1
        elif sql.startswith("/*", i):
            i = _comment_end(sql, i + 2)
        elif char == "$":
            if i + 1 < end and sql[i + 1].isdigit() and (i == 0 or sql[i - 1] not in _WORD):
                return sql  # numbered already: PostgreSQL's own placeholders
            i = _dollar_quote_end(sql, i)
        else:
            i += 1
    out.append(sql[copied:])
    return "".join(out)


def _string_end(sql: str, i: int, *, quote: str = "'", backslash: bool = False) -> int:
    """The index after the literal whose body starts at `i` (a doubled quote is one
    quote; with `backslash`, as in `E'...'`, a backslash escapes the next character)."""
    end = len(sql)
    while i < end:
        char = sql[i]
        if backslash and char == "\\":
            i += 2
        elif char == quote:
            if i + 1 < end and sql[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return end  # unterminated: the database will say so


def _comment_end(sql: str, i: int) -> int:
    """The index after a block comment whose body starts at `i` (PostgreSQL nests them)."""
    depth, end = 1, len(sql)
    while i < end:
        if sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        elif sql.startswith("/*", i):
            depth += 1
            i += 2
        else:
            i += 1
    return end


def _dollar_quote_end(sql: str, i: int) -> int:
    """The index after a `$tag$...$tag$` string starting at `i`, or after the `$` when
    it does not open one."""
    close = sql.find("$", i + 1)
    tag = sql[i : close + 1] if close > 0 else ""
    body = tag[1:-1]
    if not tag or (body and (body[0].isdigit() or not all(c in _WORD for c in body))):
        return i + 1
    if i > 0 and sql[i - 1] in _WORD:
        return i + 1  # part of an identifier (PostgreSQL allows `$` inside names)
    finish = sql.find(tag, close + 1)
    return len(sql) if finish < 0 else finish + len(tag)
