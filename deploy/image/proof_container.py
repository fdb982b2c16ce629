"""What scripts/deploy-proof runs INSIDE its lucid-proof containers (mounted read-only as /proof; TEST ONLY).

    proof_container.py mongo --advertise mongo:27017 --replica-set rs0      SecantusDB in place of mongo:7
    proof_container.py mongo-primary mongo:27017                            its health check (exit 0: writable primary)
    proof_container.py receipt --txid HEX                                   a transaction through tron-client

`mongo`: SecantusDB presents itself as a one-member replica set, and a driver connected with `?replicaSet=rs0` uses
the member address the server advertises in `hello`. SecantusDB advertises the address its socket is bound to
(0.0.0.0:27017 here, which a client cannot reach): this names the member as compose names the container, so every
service's MONGO_URL (`mongodb://mongo:27017/?replicaSet=rs0`) stays as deploy/compose.yaml has it.

`receipt`: an operator's call of TronClientService.GetTransactionInfo over mutual TLS (grpcurl is not available),
with the certificate `lucid-tron pki issue-operator` wrote, mounted at /tls. Prints the receipt as one JSON line once
tron-client has it in the solidified view; exit 1 if it does not within --timeout.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path


def mongo(advertise: str, replica_set: str, port: int, storage_path: str) -> int:
    from secantus.server import SecantusDBServer

    host, advertised_port = advertise.rsplit(":", 1)

    class AdvertisedServer(SecantusDBServer):
        @property
        def address(self) -> tuple[str, int]:
            super().address  # noqa: B018 - raises while the server is not started, as the original does
            return host, int(advertised_port)

    server = AdvertisedServer(host="0.0.0.0", port=port, storage_path=storage_path, replica_set_name=replica_set)

    def stop(signum: int, frame: object) -> None:
        server.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.start()
    print(f"proof mongo: SecantusDB on 0.0.0.0:{port}, replica set {replica_set} as {advertise}", flush=True)
    server.wait()
    return 0


def mongo_primary(address: str, replica_set: str) -> int:
    from pymongo import MongoClient

    client = MongoClient(f"mongodb://{address}/?replicaSet={replica_set}", serverSelectionTimeoutMS=5000)
    try:
        return 0 if client.admin.command("hello").get("isWritablePrimary") else 1
    finally:
        client.close()


def receipt(address: str, tls: Path, txid: str, timeout_s: float) -> int:
    import grpc
    from google.protobuf.json_format import MessageToDict

    from lucid.tron.v1 import common_pb2, tron_client_pb2, tron_client_pb2_grpc

    credentials = grpc.ssl_channel_credentials(
        (tls / "ca.pem").read_bytes(), (tls / "key.pem").read_bytes(), (tls / "cert.pem").read_bytes()
    )
    request = tron_client_pb2.GetTransactionInfoRequest(txid=txid, finality=common_pb2.FINALITY_SOLIDIFIED)
    deadline = time.monotonic() + timeout_s
    last = ""
    with grpc.secure_channel(address, credentials) as channel:
        stub = tron_client_pb2_grpc.TronClientServiceStub(channel)
        while time.monotonic() < deadline:
            try:
                answer = stub.GetTransactionInfo(request, timeout=10)
            except grpc.RpcError as error:
                # NOT_FOUND until the block holding it is solidified.
                last = f"{error.code().name}: {error.details()}"
                time.sleep(2)
                continue
            print(json.dumps(MessageToDict(answer.receipt, preserving_proto_field_name=True)), flush=True)
            return 0
    print(f"proof receipt: tron-client did not return {txid} within {timeout_s:.0f} s (last: {last})", file=sys.stderr)
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("mongo")
    server.add_argument("--advertise", required=True, help="host:port the member is known as")
    server.add_argument("--replica-set", default="rs0")
    server.add_argument("--port", type=int, default=27017)
    server.add_argument("--storage-path", default="/tmp/secantus")
    primary = commands.add_parser("mongo-primary")
    primary.add_argument("address")
    primary.add_argument("--replica-set", default="rs0")
    info = commands.add_parser("receipt")
    info.add_argument("--address", default="tron-client:50051")
    info.add_argument("--tls", type=Path, default=Path("/tls"))
    info.add_argument("--txid", required=True)
    info.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    if args.command == "mongo":
        return mongo(args.advertise, args.replica_set, args.port, args.storage_path)
    if args.command == "mongo-primary":
        return mongo_primary(args.address, args.replica_set)
    return receipt(args.address, args.tls, args.txid, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
