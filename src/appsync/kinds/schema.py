"""JSON Schema (draft 2020-12) for each kind's object files, generated from the manifests,
so that editors can check and complete them as they are written."""

from __future__ import annotations

from typing import Any

from appsync.kinds.spec import FieldSpec, KindSpec, Registry

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCALARS: dict[str, dict[str, Any]] = {
    "uuid": {"type": "string", "format": "uuid"},
    "string": {"type": "string"},
    "text": {"type": "string"},
    "bool": {"type": "boolean"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "json": {},
}
HISTORY: dict[str, Any] = {
    "type": "array",
    "description": "Revisions this content descends from, newest first (appsync writes it).",
    "items": {
        "type": "object",
        "required": ["rev", "at", "origin"],
        "additionalProperties": False,
        "properties": {
            "rev": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
            "at": {"type": "string"},
            "origin": {"type": "string"},
        },
    },
}


def _field(spec: KindSpec, field: FieldSpec) -> dict[str, Any]:
    if field.sidecar is not None:
        return {
            "type": ["object", "null"],
            "description": "The value lives in a file beside this one.",
            "required": ["sidecar"],
            "additionalProperties": False,
            "properties": {"sidecar": {"type": "string"}},
        }
    schema = dict(_SCALARS[field.type])
    if field.set:
        schema = {"type": "array", "uniqueItems": True, "description": "A set (kept sorted)."}
    elif field.keyed_list is not None:
        keys = list(field.keyed_list.key)
        child = spec.storage.children.get(field.name)
        item: dict[str, Any] = {"type": "object", "required": keys}
        if child is not None:
            item["properties"] = {n: _field(spec, f) for n, f in child.fields.items()}
            item["additionalProperties"] = False
        schema = {"type": "array", "items": item, "description": f"Keyed by {', '.join(keys)}."}
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        schema["type"] = [*kinds, "null"]
    return schema


def kind_schema(registry: Registry, spec: KindSpec) -> dict[str, Any]:
    properties = {name: _field(spec, f) for name, f in spec.fields.items()}
    properties["history"] = HISTORY
    required = ["id"] if spec.identity.strategy == "uuid" else []
    return {
        "$schema": DIALECT,
        "$id": f"https://appsync.dev/schemas/{registry.name}/{spec.kind}.schema.json",
        "title": f"appsync {registry.name} {spec.kind}",
        "description": f"An object file of kind {spec.kind} ({spec.folder or 'app.json'}).",
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": properties,
    }


def schemas(registry: Registry) -> dict[str, dict[str, Any]]:
    """File name -> schema, for every kind of the platform."""
    return {f"{spec.kind}.schema.json": kind_schema(registry, spec) for spec in registry}
