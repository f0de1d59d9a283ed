"""edge.call_facts: one typed function per fact model, named after it, taking exactly its own fields."""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

from edge import call_facts as cf
from edge.facts import ENVELOPE_FIELDS, FactRecorder, ListPublisher, own_fields
from schemas import models as m
from schemas.codec import decode, encode

BUILDERS = {
    name: fn
    for name, fn in inspect.getmembers(cf, inspect.isfunction)
    if not name.startswith("_") and fn.__module__ == cf.__name__
}


def model_of(name: str) -> type[Any]:
    model: type[Any] = getattr(m, "".join(part.title() for part in name.split("_")))
    return model


def snake(model: type[Any]) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


def test_each_function_is_named_after_its_model_and_takes_exactly_its_own_fields() -> None:
    assert len(BUILDERS) == 22
    for name, fn in BUILDERS.items():
        model = model_of(name)
        assert snake(model) == name
        params = list(inspect.signature(fn).parameters.values())
        assert params[0].name == "call_id"
        own = {f.name: f for f in dataclasses.fields(model) if f.name not in ENVELOPE_FIELDS}
        assert [p.name for p in params[1:]] == list(own), name
        for p in params[1:]:
            assert p.kind is inspect.Parameter.KEYWORD_ONLY, (name, p.name)
            default = own[p.name].default
            assert p.default == (inspect.Parameter.empty if default is dataclasses.MISSING else default)
            assert p.annotation == own[p.name].type, (name, p.name)


def _sample(annotation: str) -> Any:
    if annotation.startswith("bytes"):
        return b"INVITE"
    if annotation.startswith("int"):
        return 7
    if annotation.startswith("float"):
        return 1.5
    if annotation.startswith("bool"):
        return True
    return "x"


def test_each_function_builds_its_model_unstamped_and_the_recorder_makes_it_storable() -> None:
    recorder = FactRecorder(ListPublisher(), "edge-test")
    for name, fn in BUILDERS.items():
        params = list(inspect.signature(fn).parameters.values())[1:]
        kwargs = {p.name: _sample(str(p.annotation)) for p in params if p.default is inspect.Parameter.empty}
        fact = fn("c1", **kwargs)
        assert type(fact) is model_of(name) and fact.call_id == "c1"
        assert (fact.event_id, fact.seq, fact.source) == (cf.UNSTAMPED_ID, 0, "")
        assert all(own_fields(fact)[k] == v for k, v in kwargs.items()), name
        record = recorder.record(fact)
        assert own_fields(record) == own_fields(fact) and decode(encode(record)) == record


def test_a_transfer_without_a_status_records_none() -> None:
    assert cf.call_transferred("c1", target_uri="sip:h@x", status="requested").sip_status is None
