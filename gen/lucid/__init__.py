"""Generated code for the lucid.* protobuf packages. Do not edit: run scripts/gen-protos."""
