"""The contract every ``Source`` keeps, as functions each source's tests call.

``await check_source_contract(source, ctx_factory)`` runs ``source`` in a context made by
``ctx_factory(sink)`` (the checker's sink collects what is emitted) until it has emitted
``min_records`` records or returned, cancels it, and checks: it is a ``Source`` (a lower-case
name, a non-empty ``produces`` of known kinds), it emits only records of kinds it declares,
with timezone-aware timestamps and its own simulated flag, its ``status()`` is a
``SourceStatus`` that reads ``ok`` once it has emitted and counts what it emitted, and
cancellation ends it with ``CancelledError`` and nothing else. It returns what was emitted,
for the caller's own checks.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from alphawire.sources.base import Source, SourceContext, SourceStatus
from alphawire.sources.records import RECORD_KINDS, RECORD_TYPES, Record, record_from_json, to_json

ContextFactory = Callable[..., SourceContext]
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass
class ContractRun:
    """What a contract run saw: the records, in order, and the batches they came in."""

    records: list[Record] = field(default_factory=list)
    batches: int = 0
    returned: bool = False  # the source finished by itself (a bounded source or a replay)


async def check_source_contract(
    source: Source,
    ctx_factory: ContextFactory,
    *,
    min_records: int = 1,
    simulated: bool | None = None,
) -> ContractRun:
    """Run ``source`` until ``min_records`` are emitted (or it returns) and check the contract.

    ``ctx_factory(sink)`` must build a context whose ``emit`` awaits ``sink(batch)``
    (``alphawire.sources.context.StandaloneContext`` does). ``simulated``, when given, is
    the ``simulated`` flag every record must carry.
    """
    assert isinstance(source, Source), f"{source!r} does not implement the Source protocol"
    assert _NAME.match(source.name), f"source name {source.name!r} is not lower_snake_case"
    assert source.produces, f"{source.name}: produces is empty"
    assert source.produces <= RECORD_KINDS, (
        f"{source.name}: unknown kinds {source.produces - RECORD_KINDS}"
    )
    before = source.status()
    assert isinstance(before, SourceStatus)
    orjson.dumps(before.as_json())

    run = ContractRun()
    enough = asyncio.Event()

    async def sink(batch: Sequence[Record]) -> None:
        assert batch, f"{source.name}: emitted an empty batch"
        run.batches += 1
        run.records.extend(batch)
        if len(run.records) >= min_records:
            enough.set()

    ctx = ctx_factory(sink)
    task = asyncio.ensure_future(source.run(ctx))
    waiter = asyncio.ensure_future(enough.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if task.done():
        task.result()  # a source that stopped by itself must not have failed
        run.returned = True
    assert len(run.records) >= min_records or run.returned, (
        f"{source.name}: emitted {len(run.records)} records, expected at least {min_records}"
    )

    for n, record in enumerate(run.records):
        assert isinstance(record, tuple(RECORD_TYPES.values())), f"item {n} is {record!r}"
        assert record.kind in source.produces, (
            f"{source.name}: emitted a {record.kind!r} record but produces {sorted(source.produces)}"
        )
        assert record.ts.tzinfo is not None, f"{source.name}: record {n} has a naive timestamp"
        if simulated is not None:
            assert record.simulated is simulated, (
                f"{source.name}: record {n} simulated={record.simulated}"
            )
        assert record_from_json(orjson.loads(orjson.dumps(to_json(record)))) == record

    status = source.status()
    assert isinstance(status, SourceStatus)
    orjson.dumps(status.as_json())
    if run.records:
        assert status.state == "ok", f"{source.name}: state {status.state!r} after emitting"
        assert status.items >= len(run.records), (
            f"{source.name}: status counts {status.items} items, {len(run.records)} were emitted"
        )
        assert status.last_success is not None, f"{source.name}: emitted but no last_success"

    if not task.done():
        task.cancel()
        await asyncio.wait({task})
        assert task.cancelled(), (
            f"{source.name}: cancelling ended with {task.exception()!r}, not CancelledError"
        )
    return run
