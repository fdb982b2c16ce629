"""The baseline: a grpc.aio server whose one RPC returns its request, run as its own process like a service.

    python -m bench.echo --port P           bare grpc.aio: one generic handler, bytes in, bytes out, no interceptor
    python -m bench.echo --port P --mesh    the same handler on lucid_tron.mesh (`run`: request scope, metrics
                                            when METRICS_PORT is set, error mapping, health, reflection, JSON
                                            logs), i.e. a service with no work

The bare server is what "ratio vs echo" divides by: the best a Python grpc.aio process does on this machine, with
the same process boundary, the same client and the same loopback as the services. The mesh variant tells the cost of
the runtime every service carries from the cost of a service's own work. Neither parses protobuf: the method is
registered with identity (de)serializers, so the request bytes are the response bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from typing import Any

import grpc

SERVICE = "bench.Echo"
METHOD = f"/{SERVICE}/Echo"


async def echo(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    return request


def echo_handler() -> grpc.GenericRpcHandler:
    # No serializers: grpc hands the handler the request's bytes and sends the bytes it returns.
    return grpc.method_handlers_generic_handler(SERVICE, {"Echo": grpc.unary_unary_rpc_method_handler(echo)})


async def serve_bare(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then stop at once (nothing in flight matters to a benchmark)."""
    # The mesh's server option, so the two differ only by what lucid_tron.mesh adds.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((echo_handler(),))
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(0)


def run_mesh(also_as: str | None = None) -> None:
    """Serve with lucid_tron.mesh's `run`, configured from the environment (GRPC_PORT...) like any service;
    `also_as` ("/package.Service/Method") serves the same echo under a second name too."""
    from lucid_tron.mesh import Registration, ServiceSettings, ServiceSpec, run

    def add(servicer: object, server: grpc.aio.Server) -> None:
        handlers = [echo_handler()]
        if also_as is not None:
            service, _, method = also_as.lstrip("/").partition("/")
            handlers.append(
                grpc.method_handlers_generic_handler(service, {method: grpc.unary_unary_rpc_method_handler(echo)})
            )
        server.add_generic_rpc_handlers(handlers)

    def build(settings: ServiceSettings) -> ServiceSpec:
        return ServiceSpec(name="bench-echo", services=[Registration(add, None, SERVICE)])

    run(build, ServiceSettings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.echo", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mesh", action="store_true", help="serve on lucid_tron.mesh instead of bare grpc.aio")
    parser.add_argument("--also-as", metavar="METHOD", help="with --mesh: also serve the echo as this full method name")
    args = parser.parse_args(argv)
    if args.mesh:
        os.environ["GRPC_HOST"] = args.host
        os.environ["GRPC_PORT"] = str(args.port)
        run_mesh(args.also_as)
    asyncio.run(serve_bare(args.host, args.port))


if __name__ == "__main__":
    main(sys.argv[1:])
