"""Records built as plain dicts on a sync's hot path, with the documents of the models.

`build(Model, **values)` gives what `Model(**values)` would store, without pydantic:
the document `Model(**values).to_doc()` returns (the same keys in the same order, the
same values), its key and its `source_id`. It builds one only when every value already
has the exact type its field declares (a str for `str`, an int for `int`, a list of str
for `list[str]`, None where None is allowed, a field with a nested model only at its
empty default, for `dict[str, Any]` a dict of str keys whose values are, all the way
down, exact str, int, bool, None, float, list or dict values json and orjson write
alike): those are the values pydantic keeps as they are. For any other value
(one pydantic would convert or refuse) it returns `Model(**values)` itself, so the
result is always the model's, a ValidationError included.
"""

from __future__ import annotations

import hashlib
import math
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:       # the models are passed in: reading documents needs no pydantic
    from dihub.models.records import Record

_INT64 = (-(2 ** 63), 2 ** 64 - 1)       # what orjson writes (beyond: json, see signature)


class CheckedDocument(dict):
    """A stored document whose values are all exact JSON types that json and orjson write
    alike: a PlainRecord's (checked when it was built) plus the engine's string fields
    (`_id`, `raw_signature`, `ingested_at`). `documents.encode_document` writes it with
    orjson without looking through it again; put nothing else into one."""

    __slots__ = ()


class PlainRecord:
    """A record's document built without its model; stands for the model where records
    are stored (`to_doc`, `key`, `source_id`, `entity`; fields read as attributes)."""

    __slots__ = ("entity", "source_id", "doc", "_key", "_signature", "shared")

    def __init__(self, entity: str, doc: dict[str, Any]):
        self.entity = entity
        self.doc = doc            # never changed once built: `build` may share the record
        self.source_id: str = doc["source_id"]
        self._key = f"{doc['source']}:{entity}:{self.source_id}"
        self._signature: str | None = None
        self.shared = False       # one record for equal values (see `build`)

    def key(self) -> str:
        return self._key

    def to_doc(self) -> dict[str, Any]:
        return CheckedDocument(self.doc)

    def signature(self, doc: dict[str, Any]) -> str | None:
        """The signature of `doc` (this record's document) when orjson writes it as
        `documents.signature` would hash it: its values are exact JSON types (checked
        when it was built), so only what orjson refuses is left (a lone surrogate).
        Computed once: `doc` is a copy of this record's unchanging document."""
        if self._signature is None:
            try:
                self._signature = hashlib.sha256(
                    orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
            except orjson.JSONEncodeError:
                return None
        return self._signature

    def __getattr__(self, name: str) -> Any:
        try:
            return self.doc[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        return f"PlainRecord({self.doc!r})"


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_int(v: Any) -> bool:
    return type(v) is int and _INT64[0] <= v <= _INT64[1]


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_float(v: Any) -> bool:
    return type(v) is float and math.isfinite(v) and (v == 0.0 or abs(v) >= 1e-4)


def _is_str_list(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)


_JSON_LEAF = frozenset((str, bool, type(None)))


def _is_json(v: Any, depth: int = 0) -> bool:
    """An exact JSON value that pydantic dumps as it is and orjson writes as json does
    (as documents._same_as_json; ints within 64 bits); nesting bounded as orjson's."""
    t = type(v)
    if t in _JSON_LEAF:
        return True
    if t is int:
        return _is_int(v)
    if t is float:
        return _is_float(v)
    if depth >= 200:
        return False
    if t is dict:
        return all(type(k) is str for k in v) and all(_is_json(x, depth + 1)
                                                      for x in v.values())
    if t is list:
        return all(_is_json(x, depth + 1) for x in v)
    return False


def _is_json_object(v: Any) -> bool:
    return type(v) is dict and _is_json(v)


def _json_copy(v: Any) -> Any:
    """A copy of a value `_is_json` accepted: the record shares nothing with its input."""
    t = type(v)
    if t is dict:
        return {k: _json_copy(x) for k, x in v.items()}
    if t is list:
        return [_json_copy(x) for x in v]
    return v


_CHECKS: dict[Any, Callable[[Any], bool]] = {str: _is_str, int: _is_int, bool: _is_bool,
                                             float: _is_float, list[str]: _is_str_list,
                                             dict[str, Any]: _is_json_object}


def _optional(annotation: Any) -> tuple[bool, Any]:
    """(True, X) for `X | None`; (True, None) for a union of several types with None;
    (False, annotation) otherwise."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (types.UnionType, typing.Union) \
            and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return True, rest[0] if len(rest) == 1 else None
    return False, annotation


def _check(annotation: Any, default: Any) -> Callable[[Any], bool]:
    """What a value must be for pydantic to keep it as it is (and json to write it as
    orjson does)."""
    optional, annotation = _optional(annotation)
    if optional:
        inner = _CHECKS.get(annotation)
        if inner is not None:
            return lambda v: v is None or inner(v)
        return lambda v: v is None
    inner = _CHECKS.get(annotation)
    if inner is not None:
        return inner
    if default == []:                        # a list of nested models: only when empty
        return lambda v: type(v) is list and not v
    return lambda v: False


class _Spec:
    __slots__ = ("model", "entity", "fields", "names", "omit", "shared", "document")

    def __init__(self, model: type[Record]):
        self.model = model
        self.entity = model.entity
        self.fields: list[tuple[str, Any, bool, Callable[[Any], bool]]] = []
        for name, info in model.model_fields.items():
            required = info.is_required()
            default = None if required else info.get_default(call_default_factory=True)
            self.fields.append((name, default, required, _check(info.annotation, default)))
        self.names = frozenset(model.model_fields)
        self.omit = model.omit_when_empty
        # equal values -> one record, for the records many items repeat (Record.repeated)
        self.shared: dict[tuple, PlainRecord] | None = {} if model.repeated else None
        self.document = _compile(model, self.fields, self.omit)


_specs: dict[type[Record], _Spec] = {}
_MISSING = object()
_SHARED_MAX = 4096          # records kept per repeated model (a few MB); emptied when full
_STR_NONE = frozenset((str, type(None)))


def build(model: type[Record], **values: Any) -> PlainRecord | Record:
    """What `model(**values)` stores, as a PlainRecord when no value needs pydantic (see
    the module's docstring), else `model(**values)`."""
    spec = _specs.get(model)
    if spec is None:
        spec = _specs[model] = _Spec(model)
    shared = spec.shared
    # shared only when every value is an exact str or None: then equal values are the
    # same values (1 == True == 1.0, a str subclass equals its str)
    if shared is not None and _STR_NONE.issuperset(map(type, values.values())):
        key = tuple(values.items())
        record = shared.get(key)
        if record is None:
            record = _build(spec, values)
            if type(record) is PlainRecord:
                if len(shared) >= _SHARED_MAX:
                    shared.clear()
                record.shared = True
                shared[key] = record
        return record
    return _build(spec, values)


def _build(spec: _Spec, values: dict[str, Any]) -> PlainRecord | Record:
    if not spec.names.issuperset(values):
        return spec.model(**values)             # an unknown field: the model says so
    doc = spec.document(values)
    if doc is None:
        return spec.model(**values)
    return PlainRecord(spec.entity, doc)


# The exact-type tests (as _CHECKS) written inline in a model's document function, and
# whether a value that passes may be a list (copied); a field of another type is tested
# by calling its check (`ok(v)`), and a value that passes that is copied if need be.
_INLINE: dict[Any, tuple[str, bool]] = {
    str: ("type(v) is str", False), bool: ("type(v) is bool", False),
    int: ("type(v) is int and {} <= v <= {}".format(*_INT64), False),
    list[str]: ("type(v) is list and all(type(x) is str for x in v)", True)}


def _inline(annotation: Any) -> tuple[str, bool] | None:
    """The inline test of a field's annotation (optional ones allow None), if any."""
    optional, annotation = _optional(annotation)
    inline = _INLINE.get(annotation)
    if optional and inline is not None:
        return f"v is None or {inline[0]}", inline[1]
    return None if optional else inline


def _compile(model: type[Record], fields: list[tuple[str, Any, bool, Callable[[Any], bool]]],
             omit: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """A model's document function: `values` (whose keys are all fields of the model) ->
    the document `_build` stores, or None when a value needs the model. Generated once
    per model, as dataclasses generates `__init__`: the same steps as a loop over the
    fields, without a call and a tuple per field (a GitHub commit's 21 fields: the whole
    build 6.5 -> 4.6 us)."""
    env: dict[str, Any] = {"_MISSING": _MISSING, "_json_copy": _json_copy}
    lines = ["def document(values):", "    get = values.get", "    doc = {}"]
    for i, (field, default, required, ok) in enumerate(fields):
        test, copies = _inline(model.model_fields[field].annotation) or (f"ok{i}(v)", True)
        env[f"ok{i}"] = ok
        lines.append(f"    v = get({field!r}, _MISSING)")
        lines.append("    if v is _MISSING:")
        if required:
            lines.append("        return None")
        elif default == []:
            lines.append("        v = []")
        else:
            env[f"d{i}"] = default
            lines.append(f"        v = d{i}")
        lines.append(f"    elif not ({test}):")
        lines.append("        return None")
        if copies:
            lines.append("    elif type(v) is list:")
            lines.append("        v = list(v)")
            lines.append("    elif type(v) is dict:")
            lines.append("        v = _json_copy(v)")
        lines.append(f"    doc[{field!r}] = v")
    lines.append(f"    doc['entity'] = {model.entity!r}")
    for field in omit:
        lines.append(f"    if doc.get({field!r}) in (None, [], {{}}):")
        lines.append(f"        doc.pop({field!r}, None)")
    lines.append("    return doc")
    # our own text, from the model's fields; named after the model in tracebacks and profiles
    exec(compile("\n".join(lines), f"<plain.build {model.__name__}>", "exec"), env)  # noqa: S102
    return env["document"]
