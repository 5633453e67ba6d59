"""The delivery process, the child's side: ``python -m alphawire.alerting.worker <fd>``.

It opens the parent's outbox and runs the same dispatchers (see ``process.py`` for the
parent's handle, the wake protocol and the shared counters).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any

from alphawire.alerting.dispatcher import RetryPolicy
from alphawire.alerting.manager import AlertManager
from alphawire.alerting.process import ALL, Block
from alphawire.alerting.routes import RouteTable, route_from_dict


async def _serve(config: dict[str, Any], fd: int) -> None:
    manager = AlertManager(
        config["path"],
        routes=RouteTable(tuple(route_from_dict(r) for r in config["routes"])),
        hub_url=config["hub_url"],
        token=config["token"],
        policy=RetryPolicy(*config["policy"]),
        max_pending=config["max_pending"],
        synchronous=config["synchronous"],
    )
    block = Block(fd, config["destinations"])
    if set(block.counters) != set(manager.counters):
        raise RuntimeError(f"destinations differ: {sorted(block.counters)} / {manager.counters}")
    manager.counters = block.counters
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)

    def readable() -> None:
        try:
            data = os.read(0, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the parent closed the pipe, or died
            loop.remove_reader(0)
            stopping.set()
            return
        manager.note_activity()
        manager.wake(everyone=ALL in data)

    os.set_blocking(0, False)
    loop.add_reader(0, readable)
    await manager.start()
    watcher = asyncio.create_task(_watch_parent(config["parent"], stopping, manager, block))
    try:
        await stopping.wait()
    finally:
        watcher.cancel()
        await manager.stop()
        manager.outbox.close()


async def _watch_parent(parent: int, stopping: asyncio.Event, manager: Any, block: Block) -> None:
    """Publish the Discord client's counts; stop when the parent is gone."""
    discord = manager.discord_client
    while True:
        if discord is not None:
            block.write_discord(discord.stats())
        if os.getppid() != parent:
            stopping.set()
            return
        await asyncio.sleep(0.25)


def main() -> None:
    """Entry point of the delivery process: ``python -m alphawire.alerting.worker <fd>``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = int(sys.argv[1])
    line = sys.stdin.buffer.readline()
    if not line:
        return  # the parent went away before saying anything
    config = json.loads(line)
    logging.basicConfig(
        format="alphawire alert delivery[%(process)d] %(levelname)s %(name)s: %(message)s"
    )
    for name, level in config["log_levels"].items():
        logging.getLogger(name).setLevel(level)
    asyncio.run(_serve(config, fd))


if __name__ == "__main__":
    main()
