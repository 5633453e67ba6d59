"""An analysis's state per watchlist symbol, the shape every market-structure book shares."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from alphawire.agents.agent_options import AgentOptions

OptionsT = TypeVar("OptionsT", bound=AgentOptions)
StateT = TypeVar("StateT")


class WatchlistBook(Generic[OptionsT, StateT]):
    """An analysis's state per watchlist symbol (``GammaBook``, ``DarkPoolBook``, ...).

    A symbol's state is made (``_new``) by its first record; a symbol outside a non-empty
    watchlist gets none (a record about it is ignored).
    """

    def __init__(self, options: OptionsT, watchlist: Iterable[str] = ()) -> None:
        self.options = options
        self.watchlist = frozenset(watchlist)
        self._by_symbol: dict[str, StateT] = {}

    def _new(self, symbol: str) -> StateT:
        """The state of a symbol that has none yet."""
        raise NotImplementedError

    def _state(self, symbol: str) -> StateT | None:
        """``symbol``'s state, made on first use; None outside the watchlist."""
        if self.watchlist and symbol not in self.watchlist:
            return None
        state = self._by_symbol.get(symbol)
        if state is None:
            state = self._by_symbol[symbol] = self._new(symbol)
        return state
