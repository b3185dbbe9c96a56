"""A small Directus project built the way a team builds one: through Directus's REST API
(within the core licence: no field lists or filters in permissions, API-only users)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.directus_server import Directus

AUTHOR_ID = "0b9f6d2e-5a43-4c1e-9f0a-7d6c5b4a3e21"


@dataclass
class Project:
    editors_role: str
    editors_policy: str
    editor_user: str
    flow: str
    dashboard: str


def build(d: Directus) -> Project:
    d.ok(
        "POST",
        "/collections",
        {
            "collection": "authors",
            "schema": {},
            "meta": {"icon": "person", "note": "People who write"},
            "fields": [
                {
                    "field": "id",
                    "type": "uuid",
                    "meta": {
                        "hidden": True,
                        "readonly": True,
                        "interface": "input",
                        "special": ["uuid"],
                    },
                    "schema": {"is_primary_key": True, "length": 36, "has_auto_increment": False},
                },
                {"field": "name", "type": "string", "meta": {"interface": "input"}, "schema": {}},
            ],
        },
    )
    d.ok(
        "POST",
        "/collections",
        {
            "collection": "articles",
            "schema": {},
            "meta": {"icon": "article", "note": "Blog posts"},
            "fields": [
                {
                    "field": "id",
                    "type": "integer",
                    "meta": {"hidden": True, "interface": "input", "readonly": True},
                    "schema": {"is_primary_key": True, "has_auto_increment": True},
                },
                {
                    "field": "title",
                    "type": "string",
                    "meta": {"interface": "input", "required": True},
                    "schema": {"is_nullable": False, "default_value": "Untitled"},
                },
                {"field": "body", "type": "text", "meta": {"interface": "input-multiline"}},
                {
                    "field": "status",
                    "type": "string",
                    "schema": {"default_value": "draft"},
                    "meta": {
                        "interface": "select-dropdown",
                        "options": {
                            "choices": [
                                {"text": "Draft", "value": "draft"},
                                {"text": "Published", "value": "published"},
                            ]
                        },
                    },
                },
                {
                    "field": "published",
                    "type": "boolean",
                    "schema": {"default_value": False},
                    "meta": {"interface": "boolean", "special": ["cast-boolean"]},
                },
                {"field": "published_at", "type": "timestamp", "meta": {}},
                {"field": "rating", "type": "float", "meta": {}},
                {"field": "tags", "type": "json", "meta": {"special": ["cast-json"]}},
                {
                    "field": "slug",
                    "type": "string",
                    "schema": {"is_unique": True, "max_length": 100},
                    "meta": {},
                },
            ],
        },
    )
    d.ok(
        "POST",
        "/fields/articles",
        {
            "field": "author",
            "type": "uuid",
            "meta": {"interface": "select-dropdown-m2o", "special": ["m2o"]},
            "schema": {},
        },
    )
    d.ok(
        "POST",
        "/relations",
        {
            "collection": "articles",
            "field": "author",
            "related_collection": "authors",
            "schema": {"on_delete": "SET NULL"},
        },
    )
    role = d.ok(
        "POST", "/roles", {"name": "Editors", "icon": "edit", "description": "Write articles"}
    )["id"]
    policy = d.ok(
        "POST",
        "/policies",
        {"name": "Editors policy", "icon": "edit", "app_access": False, "admin_access": False},
    )["id"]
    d.ok("POST", "/access", {"role": role, "policy": policy})
    for collection, action in (("articles", "read"), ("articles", "create"), ("authors", "read")):
        d.ok(
            "POST",
            "/permissions",
            {"policy": policy, "collection": collection, "action": action, "fields": ["*"]},
        )
    user = d.ok(
        "POST",
        "/users",
        {
            "email": "editor@example.com",
            "password": "editor-password",
            "role": role,
            "first_name": "Eddie",
        },
    )["id"]
    flow = d.ok(
        "POST",
        "/flows",
        {
            "name": "Greeter",
            "icon": "waving_hand",
            "status": "active",
            "trigger": "webhook",
            "accountability": "all",
            "options": {"method": "GET", "return": "$last"},
        },
    )["id"]
    check = d.ok(
        "POST",
        "/operations",
        {
            "flow": flow,
            "key": "check",
            "name": "Has a name",
            "type": "condition",
            "position_x": 19,
            "position_y": 1,
            "options": {"filter": {"$trigger": {"query": {"name": {"_nnull": True}}}}},
        },
    )["id"]
    greet = d.ok(
        "POST",
        "/operations",
        {
            "flow": flow,
            "key": "greet",
            "type": "transform",
            "position_x": 37,
            "position_y": 1,
            "options": {"json": {"greeting": "Hello {{$trigger.query.name}}"}},
        },
    )["id"]
    refuse = d.ok(
        "POST",
        "/operations",
        {
            "flow": flow,
            "key": "refuse",
            "type": "transform",
            "position_x": 37,
            "position_y": 17,
            "options": {"json": {"greeting": "Hello nobody"}},
        },
    )["id"]
    d.ok("PATCH", f"/operations/{check}", {"resolve": greet, "reject": refuse})
    d.ok("PATCH", f"/flows/{flow}", {"operation": check})
    dashboard = d.ok("POST", "/dashboards", {"name": "Overview", "icon": "space_dashboard"})["id"]
    for x, text in ((1, "Welcome"), (13, "Latest")):
        d.ok(
            "POST",
            "/panels",
            {
                "dashboard": dashboard,
                "type": "label",
                "name": text,
                "position_x": x,
                "position_y": 1,
                "width": 12,
                "height": 6,
                "show_header": True,
                "options": {"text": text},
            },
        )
    d.ok(
        "POST",
        "/presets",
        {
            "bookmark": "Drafts",
            "role": role,
            "collection": "articles",
            "layout": "tabular",
            "filter": {"status": {"_eq": "draft"}},
        },
    )
    return Project(role, policy, user, flow, dashboard)
