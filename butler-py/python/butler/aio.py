"""An asyncio face for Butler.

Every Butler call releases the GIL while it works, so running it in a worker
thread lets an event loop carry on::

    import asyncio, butler, butler.aio

    async def main():
        b = butler.Butler.demo()
        ana = butler.aio.AsyncSession(b.login("ana", password))
        r = await ana.create_request(butler.VmSpec.demo("web01"))

    asyncio.run(main())
"""

import asyncio
import functools
import inspect
from typing import Any, Callable

from ._butler import Butler, MigrationEvent, MigrationRun, Session

__all__ = ["AsyncButler", "AsyncSession", "events"]


def _threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    return call


class AsyncSession:
    """Every ``Session`` method, as a coroutine (typed in ``aio.pyi``)."""

    def __init__(self, session: Session) -> None:
        self._session = session


def _forward(name: str) -> Any:
    async def method(self: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(getattr(self._session, name), *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = getattr(Session, name).__doc__
    try:  # the native method's own signature, for help() and stub checks
        method.__signature__ = inspect.signature(getattr(Session, name))  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        pass
    return method


def _read(name: str) -> property:
    return property(lambda self: getattr(self._session, name), doc=getattr(Session, name).__doc__)


# Real methods (not __getattr__), so help(), tab completion and the stub
# check see every one of them.
for _name in dir(Session):
    if _name.startswith("_"):
        continue
    _attr = getattr(Session, _name)
    setattr(AsyncSession, _name, _forward(_name) if callable(_attr) else _read(_name))
del _name, _attr


class AsyncButler:
    """``Butler`` with coroutine ``provision()`` and async sessions."""

    def __init__(self, butler: Butler) -> None:
        self._butler = butler

    async def login(self, name: str, password: str) -> AsyncSession:
        """Logs in a stored user (Argon2 runs off the event loop)."""
        return AsyncSession(await asyncio.to_thread(self._butler.login, name, password))

    def trusted_session(self, user: str, roles: list) -> AsyncSession:
        """A session this program vouches for; see ``Butler.trusted_session``."""
        return AsyncSession(self._butler.trusted_session(user, roles))

    async def provision(self) -> dict:
        return await asyncio.to_thread(self._butler.provision)

    @property
    def simulator(self) -> Any:
        return self._butler.simulator


async def events(run: MigrationRun):
    """Iterates a migration's progress events without blocking the loop."""
    while True:
        event: MigrationEvent | None = await asyncio.to_thread(next, run, None)
        if event is None:
            return
        yield event
