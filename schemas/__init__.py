"""The contract: one Avro schema per fact and command, typed models, and the single-object codec."""
