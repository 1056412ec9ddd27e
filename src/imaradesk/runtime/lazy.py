"""A value computed once per object, on first use, without ``functools.cached_property``'s lock.

Before Python 3.12, ``cached_property`` holds one lock per class attribute while it computes,
shared by every instance: a slow property of one turn (a knowledge search, ~30 ms) held every
other thread's turn in the process, and a turn that waited inside it for another thread's
turn would never finish. Two threads computing the same object's value at once both compute it
(a turn belongs to one thread, so that does not happen here), and the last one is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class lazy(Generic[T]):
    def __init__(self, compute: Callable[[Any], T]) -> None:
        self._compute = compute
        self._name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> lazy[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type | None = None) -> T | lazy[T]:
        if instance is None:
            return self
        value = self._compute(instance)
        # The instance's own attribute now shadows this (non-data) descriptor.
        instance.__dict__[self._name] = value
        return value
