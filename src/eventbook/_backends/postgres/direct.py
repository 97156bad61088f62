"""`Direct`: the asyncpg connection type every module of this backend passes around.

It lives alone so that the pool, sessions and signals can name it without importing
`connection.py`, which imports them.
"""

from typing import TypeAlias

import asyncpg

Direct: TypeAlias = "asyncpg.Connection[asyncpg.Record]"
