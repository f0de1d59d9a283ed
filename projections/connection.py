"""What the read side's queries run on: an asyncpg connection of its own, or one the pool lends.

asyncpg's pool lends a proxy class with the connection's methods, not a ``Connection``: every query
function accepts either, so the type checker sees both.
"""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = asyncpg.Connection | PoolConnectionProxy
