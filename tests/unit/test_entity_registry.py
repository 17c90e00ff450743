"""register_entity: a plugin's own entity, with its key and default table columns."""

from __future__ import annotations

from typing import ClassVar

import pytest

from dihub.models import ENTITIES, ENTITY_KEYS, TABLE_COLUMNS, Record, catalog, register_entity
from dihub.models.records import Commit


class Gadget(Record):
    entity: ClassVar[str] = "test_gadgets"
    gadget_id: str
    name: str = ""


def test_a_plugin_entity_is_registered_with_its_key_and_columns():
    try:
        assert register_entity(Gadget, key="gadget_id", columns=["gadget_id", "name"]) is Gadget
        assert ENTITIES["test_gadgets"] is Gadget
        assert ENTITY_KEYS["test_gadgets"] == "gadget_id"
        assert TABLE_COLUMNS["test_gadgets"] == ["gadget_id", "name"]
        # what `dihub fetch` reads without the models
        assert catalog.FIELDS["test_gadgets"] == ("source", "source_id", "updated_at",
                                                  "gadget_id", "name")
        assert catalog.TABLE_COLUMNS["test_gadgets"] == ["gadget_id", "name"]
        register_entity(Gadget)          # again: nothing changes
        assert ENTITY_KEYS["test_gadgets"] == "gadget_id"
    finally:
        for table in (ENTITIES, ENTITY_KEYS, TABLE_COLUMNS, catalog.FIELDS):
            table.pop("test_gadgets", None)


def test_a_taken_name_an_unknown_field_or_a_non_record_is_refused():
    class Fake(Record):
        entity: ClassVar[str] = "commits"

    with pytest.raises(ValueError, match="already"):
        register_entity(Fake)
    assert ENTITIES["commits"] is Commit
    with pytest.raises(ValueError, match="no field"):
        register_entity(Gadget, columns=["colour"])
    with pytest.raises(ValueError, match="not a Record"):
        register_entity(dict)
    assert "test_gadgets" not in ENTITIES and "test_gadgets" not in catalog.FIELDS


def test_the_catalog_names_every_built_in_entity_with_its_model_s_fields_in_order():
    # `dihub fetch` and `output.entity_fields` read the catalog, not the models
    assert list(catalog.FIELDS) == list(ENTITIES)
    for name, model in ENTITIES.items():
        assert catalog.FIELDS[name] == tuple(model.model_fields), name
