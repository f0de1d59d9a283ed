"""The contract: one Avro schema per fact, command, config record and metric, typed models, the codec.

The ``.avsc`` files under ``events/``, ``commands/``, ``config/``, ``metrics/`` and ``cdr/`` are the contract
(earlier versions under ``history/``, one encoded sample per version under ``golden/``). ``models``
holds the typed, frozen records generated from them by ``codegen``; ``codec`` is the Avro
single-object encoding; ``envelope`` the fields every call record carries and the per-call sequence;
``wiretext`` makes wire text safe before it becomes a fact; ``samples`` and ``fixtures`` build sample
records and the golden fixtures.
"""
