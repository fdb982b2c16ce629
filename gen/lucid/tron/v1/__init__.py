"""Generated stubs for the lucid.tron.v1 contracts. Do not edit: run scripts/gen-protos."""
