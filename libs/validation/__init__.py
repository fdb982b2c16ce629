"""Request validation for the lucid.tron.v1 contracts: read each field through one `FieldChecks`, then `done()`.

    check = FieldChecks()
    address = check.address("address", request.address)
    check.done()            # raises lucid_tron.errors.InvalidArgument naming every bad field (AIP-193), or returns

    FieldChecks         address, txid, amounts, enums, strings, bytes, page sizes, durations; `fail()` for a rule
                        of the caller's own
    MAX_STRING_LENGTH   the default bound of a free-text field

No grpc and no protobuf: values come in as the Python values of proto fields, so domain code can use it too.
"""

from lucid_tron.validation._field_checks import MAX_STRING_LENGTH, FieldChecks

__all__ = ["MAX_STRING_LENGTH", "FieldChecks"]
