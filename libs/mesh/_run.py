"""`run`: the whole life of a service process, for its `__main__.py`.

Settings come first and are loaded before anything is built, because a servicer needs them (database URLs,
limits): so a service hands `run` a *build* function from its settings to its ServiceSpec, and `run` owns the
error handling. Exit codes: 0 after a graceful stop, 78 (EX_CONFIG) for a configuration error (missing or unusable
TLS certificate files included), with every problem printed as plain text on stderr, 1 when start-up fails.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from lucid_tron.config import ConfigError, load_settings, public_view
from lucid_tron.mesh._service_settings import ServiceSettings
from lucid_tron.mesh._logging import configure_logging
from lucid_tron.mesh._server import ServiceSpec, serving
from lucid_tron.mesh._transport import tls_problems

EXIT_CONFIG = 78

S = TypeVar("S", bound=ServiceSettings)

log = logging.getLogger("lucid_tron.mesh.run")


def run(build: Callable[[S], ServiceSpec], settings_type: type[S]) -> NoReturn:
    """Load settings, build the spec, serve until SIGTERM or SIGINT, stop gracefully, exit.

    `build` is synchronous and does no I/O (construct clients, do not connect): connecting belongs in on_start
    hooks, which run with logging configured and can report health.
    """
    try:
        settings = load_settings(settings_type)
        # Logging is configured before build() so that what build() logs (e.g. tor_proxy's warning that Tor is
        # off) comes out as JSON like every other line; the module name stands in until the spec names the service.
        configure_logging(_program().rpartition(".")[2].replace("_", "-"), settings.log_level, settings.log_format)
        # Before build(): the peer clients it constructs read the same certificate files.
        problems = tls_problems(settings)
        if problems:
            raise ConfigError(problems)
        spec = build(settings)
    except ConfigError as error:
        print(f"{_program()}: {error}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    configure_logging(spec.name, settings.log_level, settings.log_format)
    try:
        asyncio.run(_serve_until_signalled(spec, settings))
    except Exception:
        log.exception("%s failed", spec.name)
        raise SystemExit(1) from None
    raise SystemExit(0)


async def _serve_until_signalled(spec: ServiceSpec, settings: ServiceSettings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _on_signal, signum, stop)
    log.info("starting %s", spec.name, extra={"settings": public_view(settings)})
    async with serving(spec, settings):
        await stop.wait()


def _on_signal(signum: signal.Signals, stop: asyncio.Event) -> None:
    log.info("received %s", signum.name)
    stop.set()


def _program() -> str:
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    return spec.name.removesuffix(".__main__") if spec is not None else sys.argv[0]
