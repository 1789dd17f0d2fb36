"""What every lab server shares: start() and stop(), and a context manager that calls them."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Service:
    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
