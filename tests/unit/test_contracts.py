"""The lucid.tron.v1 gRPC contracts follow the project's API rules, and their generated stubs match the protos.

The rules are checked on the descriptors compiled into the generated modules, so what is tested is what servers and
clients load. Comments are not in those descriptors; the checks that read comments build the protos with buf.
"""

import filecmp
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor, MethodDescriptor

ROOT = Path(__file__).resolve().parents[2]
V1_PROTOS = ROOT / "protos" / "lucid" / "tron" / "v1"
PACKAGE = "lucid.tron.v1"

# Service -> proto file stem (lucid.tron.v1.<stem>_pb2 / _pb2_grpc) and the RPCs other tools call or the architecture
# assigns to it. A service may grow more RPCs; it may not lose these.
SERVICES: dict[str, tuple[str, set[str]]] = {
    "TronClientService": (
        "tron_client",
        {
            "GetNowBlock", "GetBlock", "GetAccount", "GetAccountResources", "GetTransaction",
            "GetTransactionInfo", "BroadcastTransaction", "GetChainParameters", "EstimateEnergy", "TriggerConstantContract",
        },
    ),
    "RelayService": (
        "relay",
        {"GetNowBlock", "GetAccount", "GetAccountResources", "GetTransactionInfo", "VerifyTrc20Transfer"},
    ),
    "WalletService": (
        "wallet",
        {"CreateWallet", "GetWallet", "ListWallets", "DeriveAddress", "ListAddresses", "SignTransaction"},
    ),
    "UsdtService": (
        "usdt",
        {"GetBalance", "Transfer", "GetTransfer", "Approve", "GetAllowance", "ListTransfers", "EstimateTransfer"},
    ),
    "StakingService": (
        "staking",
        {
            "FreezeBalance", "UnfreezeBalance", "DelegateResource", "UndelegateResource",
            "WithdrawExpireUnfreeze", "GetResources", "ForecastResources",
        },
    ),
    "PaymentGatewayService": (
        "payment_gateway",
        {"CreateInvoice", "GetInvoice", "ListInvoices", "CancelInvoice", "WatchInvoice"},
    ),
    "PayoutRouterService": (
        "payout_router",
        {
            "CreatePayout", "GetPayout", "ListPayouts", "ApprovePayout", "RejectPayout", "CancelPayout",
            "GetLimits", "AddAllowedRecipient", "RemoveAllowedRecipient", "ListAllowedRecipients", "GetBreaker",
            "SetBreaker",
        },
    ),
}

# Writes that move money or stake: each must be safe to retry.
MONEY_MOVING_RPCS = {
    ("UsdtService", "Transfer"),
    ("UsdtService", "Approve"),
    ("StakingService", "FreezeBalance"),
    ("StakingService", "UnfreezeBalance"),
    ("StakingService", "DelegateResource"),
    ("StakingService", "UndelegateResource"),
    ("StakingService", "WithdrawExpireUnfreeze"),
    ("PaymentGatewayService", "CreateInvoice"),
    ("PayoutRouterService", "CreatePayout"),
}

AMOUNT_UNITS = ("_sun", "_base_units")
# A field whose name holds one of these words carries money and must say its unit.
MONEY_WORDS = ("amount", "balance", "fee", "allowance", "price", "cost", "stake")
KEY_MATERIAL_WORDS = ("mnemonic", "seed", "private", "secret", "xprv", "passphrase")
FIELD_BEHAVIOURS = ("REQUIRED.", "OPTIONAL.", "OUTPUT_ONLY.", "INPUT_ONLY.")


def _tool_env() -> dict[str, str]:
    """The environment for buf and the generators: this interpreter's bin directory first, as scripts/gen-protos
    expects of an activated virtualenv."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(Path(sys.executable).parent.parent)
    return env


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=_tool_env(), capture_output=True, text=True, timeout=120)


def _proto_stems() -> list[str]:
    return sorted(path.stem for path in V1_PROTOS.glob("*.proto"))


def _files() -> list[FileDescriptor]:
    return [importlib.import_module(f"{PACKAGE}.{stem}_pb2").DESCRIPTOR for stem in _proto_stems()]


def _messages(descriptor: FileDescriptor | Descriptor) -> Iterator[Descriptor]:
    if isinstance(descriptor, FileDescriptor):
        children = descriptor.message_types_by_name
    else:
        children = descriptor.nested_types_by_name
    for message in children.values():
        if not message.GetOptions().map_entry:
            yield message
            yield from _messages(message)


def _all_messages() -> list[Descriptor]:
    return [message for file in _files() for message in _messages(file)]


def _all_fields() -> list[FieldDescriptor]:
    return [field for message in _all_messages() for field in message.fields]


def _all_enums() -> list[EnumDescriptor]:
    enums = [enum for file in _files() for enum in file.enum_types_by_name.values()]
    enums += [enum for message in _all_messages() for enum in message.enum_types]
    return enums


def _all_methods() -> list[MethodDescriptor]:
    return [method for file in _files() for service in file.services_by_name.values() for method in service.methods]


#: Types shared by several services, in files of their own without a service: common types and the event model.
SHARED_TYPES = ("common", "events")
#: APIs that are not a service of their own, each in a file of its own: webhook endpoints (served by payment-gateway and
#: payout-router) and the treasury (served by the staking process).
SHARED_APIS = ("webhooks", "treasury")
#: Fields that carry a webhook endpoint's signing secret: a shared HMAC key the receiver must hold to verify
#: signatures, returned once when made (Create, Rotate). Never a wallet's key: those have no field at all.
WEBHOOK_SIGNING_SECRETS = {
    "lucid.tron.v1.CreateWebhookEndpointResponse.secret",
    "lucid.tron.v1.RotateWebhookSecretResponse.secret",
}


def test_there_is_one_proto_file_per_service_plus_shared_types_and_apis():
    assert _proto_stems() == sorted([*SHARED_TYPES, *SHARED_APIS, *(stem for stem, _ in SERVICES.values())])


@pytest.mark.parametrize("stem", SHARED_TYPES)
def test_shared_types_declare_no_service(stem):
    shared = importlib.import_module(f"{PACKAGE}.{stem}_pb2").DESCRIPTOR
    assert list(shared.services_by_name) == []


@pytest.mark.parametrize("service_name", sorted(SERVICES))
def test_each_service_is_importable_from_lucid_tron_v1_with_its_stubs(service_name):
    stem, _ = SERVICES[service_name]
    messages = importlib.import_module(f"{PACKAGE}.{stem}_pb2")
    stubs = importlib.import_module(f"{PACKAGE}.{stem}_pb2_grpc")

    assert list(messages.DESCRIPTOR.services_by_name) == [service_name]
    assert messages.DESCRIPTOR.package == PACKAGE
    assert callable(getattr(stubs, f"{service_name}Stub"))
    assert callable(getattr(stubs, f"{service_name}Servicer"))
    assert callable(getattr(stubs, f"add_{service_name}Servicer_to_server"))


@pytest.mark.parametrize("service_name", sorted(SERVICES))
def test_each_service_has_the_rpcs_other_tools_call(service_name):
    stem, required = SERVICES[service_name]
    service = importlib.import_module(f"{PACKAGE}.{stem}_pb2").DESCRIPTOR.services_by_name[service_name]
    assert required - set(service.methods_by_name) == set()


def test_every_rpc_has_its_own_request_and_response_named_for_it():
    seen: set[str] = set()
    for method in _all_methods():
        prefixes = (method.name, method.containing_service.name + method.name)
        assert method.input_type.name in {p + "Request" for p in prefixes}, method.full_name
        assert method.output_type.name in {p + "Response" for p in prefixes}, method.full_name
        assert {method.input_type.full_name, method.output_type.full_name}.isdisjoint(seen), method.full_name
        seen |= {method.input_type.full_name, method.output_type.full_name}


def test_only_watch_invoice_streams_and_it_streams_from_the_server():
    streaming = {
        method.full_name: (method.client_streaming, method.server_streaming)
        for method in _all_methods()
        if method.client_streaming or method.server_streaming
    }
    assert streaming == {f"{PACKAGE}.PaymentGatewayService.WatchInvoice": (False, True)}


def test_every_list_rpc_pages_with_page_size_page_token_and_next_page_token():
    lists = [method for method in _all_methods() if method.name.startswith("List")]
    assert lists, "no List RPC found"
    for method in lists:
        request, response = method.input_type.fields_by_name, method.output_type.fields_by_name
        assert request["page_size"].type == FieldDescriptor.TYPE_INT32, method.full_name
        assert request["page_token"].type == FieldDescriptor.TYPE_STRING, method.full_name
        assert response["next_page_token"].type == FieldDescriptor.TYPE_STRING, method.full_name


def test_every_create_rpc_takes_a_request_id():
    creates = [method for method in _all_methods() if method.name.startswith("Create")]
    assert creates, "no Create RPC found"
    for method in creates:
        request_id = method.input_type.fields_by_name.get("request_id")
        assert request_id is not None and request_id.type == FieldDescriptor.TYPE_STRING, method.full_name


@pytest.mark.parametrize(("service_name", "method_name"), sorted(MONEY_MOVING_RPCS))
def test_every_write_that_moves_money_takes_a_request_id(service_name, method_name):
    stem, _ = SERVICES[service_name]
    service = importlib.import_module(f"{PACKAGE}.{stem}_pb2").DESCRIPTOR.services_by_name[service_name]
    request_id = service.methods_by_name[method_name].input_type.fields_by_name.get("request_id")
    assert request_id is not None and request_id.type == FieldDescriptor.TYPE_STRING


def test_every_enum_zero_value_ends_in_unspecified():
    enums = _all_enums()
    assert enums, "no enum found"
    for enum in enums:
        zero = enum.values_by_number[0].name
        assert zero == f"{_upper_snake(enum.name)}_UNSPECIFIED", enum.full_name


def _upper_snake(camel: str) -> str:
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(camel)).upper()


def test_every_amount_field_is_an_int64_named_for_its_unit():
    for field in _all_fields():
        name = field.name
        if any(word in name for word in MONEY_WORDS) or name.endswith(AMOUNT_UNITS):
            assert name.endswith(AMOUNT_UNITS), f"{field.full_name} does not name its unit"
            assert field.type == FieldDescriptor.TYPE_INT64, f"{field.full_name} is not int64"


def test_no_field_is_a_float_or_double():
    floats = [
        field.full_name
        for field in _all_fields()
        if field.type in (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)
    ]
    assert floats == []


def test_every_time_field_is_a_google_protobuf_timestamp():
    for field in _all_fields():
        if field.name.endswith("_time"):
            assert field.message_type is not None, field.full_name
            assert field.message_type.full_name == "google.protobuf.Timestamp", field.full_name


def test_every_address_field_is_a_base58_string_or_a_message_about_one():
    for field in _all_fields():
        if (field.name == "address" or field.name.endswith("_address")) and field.message_type is None:
            assert field.type == FieldDescriptor.TYPE_STRING, field.full_name


def test_every_txid_field_is_a_hex_string():
    for field in _all_fields():
        if field.name in ("txid", "txids"):
            assert field.type == FieldDescriptor.TYPE_STRING, field.full_name


def test_no_field_can_carry_key_material():
    suspicious = [
        field.full_name
        for field in _all_fields()
        if any(word in field.name for word in KEY_MATERIAL_WORDS) and field.full_name not in WEBHOOK_SIGNING_SECRETS
    ]
    assert suspicious == []


def _built_with_comments(tmp_path: Path) -> descriptor_pb2.FileDescriptorSet:
    image = tmp_path / "image.binpb"
    result = _run("buf", "build", "--as-file-descriptor-set", "-o", str(image))
    assert result.returncode == 0, result.stderr
    return descriptor_pb2.FileDescriptorSet.FromString(image.read_bytes())


def _field_comments(file: descriptor_pb2.FileDescriptorProto) -> dict[str, str]:
    """Leading comment of every field of the file's top-level messages, keyed by '<Message>.<field>'."""
    comments = {}
    for location in file.source_code_info.location:
        path = list(location.path)
        # 4 = FileDescriptorProto.message_type, 2 = DescriptorProto.field
        if len(path) == 4 and path[0] == 4 and path[2] == 2:
            message = file.message_type[path[1]]
            comments[f"{message.name}.{message.field[path[3]].name}"] = location.leading_comments.strip()
    return comments


def test_every_field_a_client_sends_states_its_behaviour(tmp_path):
    files = [file for file in _built_with_comments(tmp_path).file if file.package == PACKAGE]
    messages = {f".{PACKAGE}.{message.name}": message for file in files for message in file.message_type}
    comments = {key: text for file in files for key, text in _field_comments(file).items()}

    # Requests, and every lucid.tron.v1 message a request carries as input (resources such as Invoice, intents).
    sent = [name for name in messages if name.endswith("Request")]
    reached: set[str] = set()
    while sent:
        name = sent.pop()
        if name in reached:
            continue
        reached.add(name)
        sent += [
            field.type_name
            for field in messages[name].field
            if field.type_name in messages
            and not comments[f"{messages[name].name}.{field.name}"].startswith("OUTPUT_ONLY.")
        ]

    unstated = [
        f"{name[1:]}.{field.name}"
        for name in sorted(reached)
        for field in messages[name].field
        if not comments[f"{messages[name].name}.{field.name}"].startswith(FIELD_BEHAVIOURS)
    ]
    assert unstated == []


def test_protos_pass_buf_lint():
    result = _run("buf", "lint")
    assert result.returncode == 0, result.stdout + result.stderr


def _generated(tree: Path) -> set[Path]:
    patterns = ("*_pb2.py", "*_pb2.pyi", "*_pb2_grpc.py", "*_pb2_grpc.pyi")
    return {path.relative_to(tree) for pattern in patterns for path in tree.rglob(pattern)}


def test_generated_stubs_are_exactly_what_scripts_gen_protos_makes(tmp_path):
    result = _run(str(ROOT / "scripts" / "gen-protos"), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr

    committed, fresh = _generated(ROOT / "gen"), _generated(tmp_path)
    stale = sorted(
        str(Path("gen") / path)
        for path in committed | fresh
        if path not in committed
        or path not in fresh
        or not filecmp.cmp(ROOT / "gen" / path, tmp_path / path, shallow=False)
    )
    assert stale == [], "stale generated files: run scripts/gen-protos"
