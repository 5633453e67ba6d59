"""Finding sources and agents: the built-ins, and third-party packages through entry points.

A package adds a source or an agent without touching alphawire by declaring an entry point
in its own ``pyproject.toml``::

    [project.entry-points."alphawire.agents"]
    echo = "my_package.echo:EchoAgent"

    [project.entry-points."alphawire.sources"]
    mytape = "my_package.tape:TapeSource"

The entry point's name is the plugin's name in ``alphawire.toml`` (``[agents.echo]``,
``[sources.mytape]``). Its object is a factory: called with the plugin's options (the rest of
its config table, a dict) it returns the Agent or Source. A factory may carry an ``Options``
attribute, a pydantic model, against which the config loader validates those options (keys,
types, defaults) before anything starts. A built-in and a plugin may not share a name; a
plugin that fails to import is reported by name, with the error, and does not stop the hub.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from alphawire.errors import ValidationError

logger = logging.getLogger("alphawire.plugins")

PluginKind = Literal["sources", "agents"]
GROUPS: dict[PluginKind, str] = {"sources": "alphawire.sources", "agents": "alphawire.agents"}

# Built-ins by name -> "module:attribute", imported only when used (a source's vendor SDK, an
# agent's analytics) so that an unused one costs nothing.
BUILTIN: dict[PluginKind, dict[str, str]] = {"sources": {}, "agents": {}}


class NoOptions(BaseModel):
    """The options of a plugin that declares none: any key is an error."""

    model_config = ConfigDict(extra="forbid")


class PluginError(ValidationError):
    """A plugin cannot be found, loaded or built."""


@dataclass
class PluginSpec:
    """A source or agent that can be built by name."""

    kind: PluginKind
    name: str
    target: str  # "module:attribute"
    origin: str  # "builtin" or the distribution that declared the entry point
    _factory: Callable[..., Any] | None = field(default=None, repr=False)

    def load(self) -> Callable[..., Any]:
        """The factory (imported on first use); PluginError naming the plugin if it fails."""
        if self._factory is None:
            module_name, _, attribute = self.target.partition(":")
            try:
                obj: Any = importlib.import_module(module_name)
                for part in attribute.split(".") if attribute else ():
                    obj = getattr(obj, part)
            except Exception as exc:
                raise PluginError(
                    f"{self.kind[:-1]} plugin {self.name!r} ({self.target}, from {self.origin}) "
                    f"cannot be loaded: {type(exc).__name__}: {exc}"
                ) from exc
            if not callable(obj):
                raise PluginError(
                    f"{self.kind[:-1]} plugin {self.name!r} ({self.target}) is not callable"
                )
            self._factory = obj
        return self._factory

    def options_model(self) -> Any:
        """The factory's ``Options`` pydantic model, or None when it declares none."""
        return _options_of(self.load())

    def build(self, options: Mapping[str, Any] | None = None) -> Any:
        """Build the source or agent from its (already validated) options."""
        factory = self.load()
        model = _options_of(factory)
        given = dict(options or {})
        if model is not None:
            given = model.model_validate(given).model_dump()
        try:
            return factory(given)
        except ValidationError:
            raise
        except Exception as exc:
            raise PluginError(
                f"{self.kind[:-1]} plugin {self.name!r} could not be built: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def _options_of(factory: Any) -> Any:
    # ``Options`` on a class, or ``options`` on a factory object (the built-in sources').
    for attribute in ("Options", "options"):
        model = getattr(factory, attribute, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model
    return None


def register_builtin(kind: PluginKind, name: str, target: str) -> None:
    """Declare a built-in (used by alphawire's own sources and agents packages)."""
    BUILTIN[kind][name] = target


def discover(kind: PluginKind) -> dict[str, PluginSpec]:
    """Every available plugin of ``kind`` by name: built-ins, then entry points."""
    found = {
        name: PluginSpec(kind, name, target, "builtin") for name, target in BUILTIN[kind].items()
    }
    for name, factory in _builtin_factories(kind).items():
        qualname = getattr(factory, "__qualname__", None) or type(factory).__qualname__
        target = f"{factory.__module__}:{qualname}"
        found[name] = PluginSpec(kind, name, target, "builtin", factory)
    for ep in entry_points(group=GROUPS[kind]):
        dist = ep.dist.name if ep.dist is not None else "an unknown distribution"
        if ep.name in found:
            logger.error(
                "%s plugin %r from %s ignored: the name is taken by %s",
                kind[:-1],
                ep.name,
                dist,
                found[ep.name].origin,
            )
            continue
        found[ep.name] = PluginSpec(kind, ep.name, ep.value, dist)
    return dict(sorted(found.items()))


def option_models() -> dict[str, dict[str, type[BaseModel]]]:
    """Every installed plugin's Options model by kind and name (``NoOptions`` when it has
    none); a plugin that fails to load is left out, with its error logged."""
    out: dict[str, dict[str, type[BaseModel]]] = {}
    for kind in GROUPS:
        models: dict[str, type[BaseModel]] = {}
        for name, found in discover(kind).items():
            try:
                models[name] = found.options_model() or NoOptions
            except PluginError as exc:
                logger.error("%s", exc)
        out[kind] = models
    return out


def spec(kind: PluginKind, name: str) -> PluginSpec:
    """The plugin called ``name``; PluginError listing what exists when there is none."""
    available = discover(kind)
    found = available.get(name)
    if found is None:
        raise PluginError(
            f"no {kind[:-1]} called {name!r}: available {kind} are {', '.join(available) or 'none'}"
        )
    return found


def _builtin_factories(kind: PluginKind) -> dict[str, Callable[..., Any]]:
    """The built-in package's own table: ``builtin_sources()`` / ``builtin_agents()``."""
    module_name = f"alphawire.{kind}.builtin"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        return {}
    table = getattr(module, f"builtin_{kind}", None)
    return dict(table()) if table is not None else {}
