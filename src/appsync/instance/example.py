"""The example instance: an invoice-approval solution of two apps, seeded deterministically.

Same ids and bytes on every run: ids are UUIDv5 of fixed names, password hashes use fixed
salts, the PNG is drawn from fixed pixels. The rows are plain dicts keyed by table, written
by the same generic code as any other rows.
"""

from __future__ import annotations

import hashlib
import struct
import uuid
import zlib
from typing import Any

_NAMESPACE = uuid.UUID("6f0a7c1e-4a59-4d0e-9a63-2b8f3c1d5e77")

#: Secret values the example seeds; tests check none of them ever reaches a tree or Git.
EXAMPLE_SECRETS: list[str] = []


def uid(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def password_hash(login: str) -> str:
    salt = hashlib.sha256(f"salt:{login}".encode()).hexdigest()[:16]
    digest = hashlib.pbkdf2_hmac("sha256", f"{login}-secret!".encode(), salt.encode(), 1000)
    value = f"pbkdf2_sha256$1000${salt}${digest.hex()}"
    EXAMPLE_SECRETS.append(value)
    return value


def logo_png(size: int = 16) -> bytes:
    """A small, valid, deterministic PNG: a blue square with a white diagonal."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b""
    for y in range(size):
        row = bytearray([0])
        for x in range(size):
            row += bytes((255, 255, 255)) if x == y else bytes((30, 90, 200))
        rows += bytes(row)
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _widget(wid: str, pane: str, wtype: str, **props: Any) -> dict[str, Any]:
    return {"id": wid, "pane": pane, "type": wtype, "props": props}


def example_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows per table for the example instance."""
    EXAMPLE_SECRETS.clear()
    invoices, contractors = uid("app/invoices"), uid("app/contractors")
    r_admin, r_acct, r_mgr, r_view = (
        uid("role/admin"),
        uid("role/accountant"),
        uid("role/contractor-manager"),
        uid("role/viewer"),
    )
    q_open, q_by_id, q_totals, q_active = (
        uid("query/open-invoices"),
        uid("query/invoice-by-id"),
        uid("query/monthly-totals"),
        uid("query/active-contractors"),
    )
    p_list, p_detail, p_queue = (
        uid("page/invoice-list"),
        uid("page/invoice-detail"),
        uid("page/approval-queue"),
    )
    p_dir, p_profile = uid("page/contractor-directory"), uid("page/contractor-profile")
    credentials = '{"api_key": "sk_live_51ExampleSecretKey0000", "client_secret": "cs-9f8e7d"}'
    EXAMPLE_SECRETS.extend(["sk_live_51ExampleSecretKey0000", "cs-9f8e7d"])

    return {
        "roles": [
            {
                "id": r_admin,
                "name": "Administrators",
                "description": "Full access.",
                "grants": ["admin:*", "apps:deploy"],
            },
            {
                "id": r_acct,
                "name": "Accountants",
                "description": "Approve and pay invoices.",
                "grants": ["invoices:approve", "invoices:pay", "invoices:read"],
            },
            {
                "id": r_mgr,
                "name": "Contractor Managers",
                "description": "Maintain the contractor register.",
                "grants": ["contractors:read", "contractors:write"],
            },
            {
                "id": r_view,
                "name": "Viewers",
                "description": "Read-only access.",
                "grants": ["contractors:read", "invoices:read"],
            },
        ],
        "users": [
            {
                "id": uid("user/alice"),
                "login": "alice",
                "email": "alice@example.com",
                "name": "Alice Admin",
                "active": True,
                "role_ids": [r_admin],
                "password_hash": password_hash("alice"),
            },
            {
                "id": uid("user/bob"),
                "login": "bob",
                "email": "bob@example.com",
                "name": "Bob Booker",
                "active": True,
                "role_ids": [r_acct, r_view],
                "password_hash": password_hash("bob"),
            },
            {
                "id": uid("user/carol"),
                "login": "carol",
                "email": "carol@example.com",
                "name": "Carol Contracts",
                "active": True,
                "role_ids": [r_mgr],
                "password_hash": password_hash("carol"),
            },
            {
                "id": uid("user/dave"),
                "login": "dave",
                "email": "dave@example.com",
                "name": "Dave Viewer",
                "active": False,
                "role_ids": [r_view],
                "password_hash": password_hash("dave"),
            },
        ],
        "apps": [
            {
                "id": invoices,
                "name": "invoices",
                "schema_version": "1.2",
                "description": "Invoice capture, approval and payment.",
                "workspace": "finance",
            },
            {
                "id": contractors,
                "name": "contractors",
                "schema_version": "1.2",
                "description": "Contractor register and onboarding.",
                "workspace": "procurement",
            },
        ],
        "pages": [
            {
                "id": p_list,
                "app_id": invoices,
                "name": "Invoice List",
                "route": "/invoices",
                "parent_id": None,
                "widgets": [
                    _widget("title", "header", "heading", label="Invoices", level=1),
                    _widget("new", "header", "button", label="New invoice", page_id=p_detail),
                    _widget(
                        "grid",
                        "main",
                        "table",
                        query_id=q_open,
                        page_size=25,
                        columns=["number", "contractor", "amount", "status"],
                    ),
                    _widget("totals", "sidebar", "chart", query_id=q_totals, chart="bar"),
                ],
            },
            {
                "id": p_detail,
                "app_id": invoices,
                "name": "Invoice Detail",
                "route": "/invoices/:id",
                "parent_id": p_list,
                "widgets": [
                    _widget("title", "header", "heading", label="Invoice", level=1),
                    _widget(
                        "form",
                        "main",
                        "form",
                        query_id=q_by_id,
                        fields=["number", "amount", "due_date", "status"],
                    ),
                    _widget("approve", "main", "button", label="Approve", action="approve"),
                    _widget("back", "footer", "link", label="Back to list", page_id=p_list),
                ],
            },
            {
                "id": p_queue,
                "app_id": invoices,
                "name": "Approval Queue",
                "route": "/invoices/queue",
                "parent_id": p_list,
                "widgets": [
                    _widget("title", "header", "heading", label="Waiting for approval", level=2),
                    _widget(
                        "grid", "main", "table", query_id=q_open, filter="status = 'submitted'"
                    ),
                ],
            },
            {
                "id": p_dir,
                "app_id": contractors,
                "name": "Contractor Directory",
                "route": "/contractors",
                "parent_id": None,
                "widgets": [
                    _widget("title", "header", "heading", label="Contractors", level=1),
                    _widget("search", "main", "search", placeholder="Name or VAT id"),
                    _widget("grid", "main", "table", query_id=q_active, page_id=p_profile),
                ],
            },
            {
                "id": p_profile,
                "app_id": contractors,
                "name": "Contractor Profile",
                "route": "/contractors/:id",
                "parent_id": p_dir,
                "widgets": [
                    _widget("title", "header", "heading", label="Contractor", level=1),
                    _widget("details", "main", "form", fields=["name", "vat_id", "iban"]),
                    _widget("title", "sidebar", "heading", label="Documents", level=3),
                ],
            },
        ],
        "data_tables": [
            {
                "id": uid("table/invoices"),
                "app_id": invoices,
                "name": "invoices",
                "columns": [
                    {
                        "id": uid("column/invoices/id"),
                        "name": "id",
                        "type": "uuid",
                        "position": 1,
                        "archived": False,
                    },
                    {
                        "id": uid("column/invoices/number"),
                        "name": "number",
                        "type": "text",
                        "position": 2,
                        "archived": False,
                    },
                    {
                        "id": uid("column/invoices/contractor"),
                        "name": "contractor_id",
                        "type": "uuid",
                        "position": 3,
                        "archived": False,
                    },
                    {
                        "id": uid("column/invoices/amount"),
                        "name": "amount",
                        "type": "numeric(12,2)",
                        "position": 4,
                        "archived": False,
                    },
                    {
                        "id": uid("column/invoices/status"),
                        "name": "status",
                        "type": "text",
                        "position": 5,
                        "archived": False,
                    },
                    {
                        "id": uid("column/invoices/legacy"),
                        "name": "legacy_code",
                        "type": "text",
                        "position": 6,
                        "archived": True,
                    },
                ],
            },
            {
                "id": uid("table/contractors"),
                "app_id": contractors,
                "name": "contractors",
                "columns": [
                    {
                        "id": uid("column/contractors/id"),
                        "name": "id",
                        "type": "uuid",
                        "position": 1,
                        "archived": False,
                    },
                    {
                        "id": uid("column/contractors/name"),
                        "name": "name",
                        "type": "text",
                        "position": 2,
                        "archived": False,
                    },
                    {
                        "id": uid("column/contractors/vat"),
                        "name": "vat_id",
                        "type": "text",
                        "position": 3,
                        "archived": False,
                    },
                    {
                        "id": uid("column/contractors/active"),
                        "name": "active",
                        "type": "boolean",
                        "position": 4,
                        "archived": False,
                    },
                ],
            },
        ],
        "queries": [
            {
                "id": q_open,
                "app_id": invoices,
                "name": "Open Invoices",
                "sql": "SELECT i.id, i.number, c.name AS contractor, i.amount, i.status\n"
                "FROM invoices i\n"
                "JOIN contractors c ON c.id = i.contractor_id\n"
                "WHERE i.status IN ('draft', 'submitted')\n"
                "ORDER BY i.due_date, i.number\n",
                "parameters": [],
                "allowed_roles": [r_acct, r_view],
            },
            {
                "id": q_by_id,
                "app_id": invoices,
                "name": "Invoice By Id",
                "sql": "SELECT i.*\nFROM invoices i\nWHERE i.id = :invoice_id\n",
                "parameters": [{"name": "invoice_id", "type": "uuid", "required": True}],
                "allowed_roles": [r_acct, r_view],
            },
            {
                "id": q_totals,
                "app_id": invoices,
                "name": "Monthly Totals",
                "sql": "SELECT date_trunc('month', i.paid_at) AS month,\n"
                "       count(*) AS invoices,\n"
                "       sum(i.amount) AS total\n"
                "FROM invoices i\n"
                "WHERE i.status = 'paid'\n"
                "  AND i.paid_at >= :since\n"
                "GROUP BY 1\n"
                "ORDER BY 1\n",
                "parameters": [{"name": "since", "type": "date", "default": "2026-01-01"}],
                "allowed_roles": [r_acct],
            },
            {
                "id": q_active,
                "app_id": contractors,
                "name": "Active Contractors",
                "sql": "SELECT c.id, c.name, c.vat_id\n"
                "FROM contractors c\n"
                "WHERE c.active\n"
                "ORDER BY c.name\n",
                "parameters": [],
                "allowed_roles": [r_mgr, r_view],
            },
        ],
        "workflows": [
            {
                "id": uid("workflow/invoice-approval"),
                "app_id": invoices,
                "name": "Invoice Approval",
                "states": [
                    {"id": "draft", "label": "Draft", "initial": True},
                    {"id": "submitted", "label": "Submitted"},
                    {"id": "approved", "label": "Approved"},
                    {"id": "rejected", "label": "Rejected", "final": True},
                    {"id": "paid", "label": "Paid", "final": True},
                ],
                "transitions": [
                    {"id": "submit", "from": "draft", "to": "submitted", "roles": [r_acct]},
                    {"id": "approve", "from": "submitted", "to": "approved", "roles": [r_acct]},
                    {"id": "reject", "from": "submitted", "to": "rejected", "roles": [r_acct]},
                    {"id": "pay", "from": "approved", "to": "paid", "roles": [r_acct]},
                    {
                        "id": "review-contractor",
                        "from": "submitted",
                        "to": "onboarding",
                        "target_app_id": contractors,
                        "roles": [r_mgr],
                    },
                ],
            },
        ],
        "functions": [
            {
                "id": uid("function/calculate-vat"),
                "app_id": invoices,
                "name": "calculateVat",
                "language": "javascript",
                "arguments": [
                    {"name": "amount", "type": "number"},
                    {"name": "rate", "type": "number", "default": 0.19},
                ],
                "returns": "number",
                "body": "export function calculateVat(amount, rate = 0.19) {\n"
                "  if (amount < 0) {\n"
                "    throw new Error('amount must not be negative');\n"
                "  }\n"
                "  return Math.round(amount * rate * 100) / 100;\n"
                "}\n",
            },
            {
                "id": uid("function/notify-approver"),
                "app_id": invoices,
                "name": "notifyApprover",
                "language": "python",
                "arguments": [{"name": "invoice_id", "type": "uuid"}],
                "returns": "void",
                "body": "def notify_approver(invoice_id):\n"
                "    invoice = db.get('invoices', invoice_id)\n"
                "    for user in users_with_role('Accountants'):\n"
                '        mail.send(user.email, f"Invoice {invoice.number} waits for you")\n',
            },
        ],
        "files": [
            {
                "id": uid("file/logo"),
                "app_id": invoices,
                "name": "logo.png",
                "mime_type": "image/png",
                "content": logo_png(),
            },
            {
                "id": uid("file/terms"),
                "app_id": contractors,
                "name": "Terms & Conditions.md",
                "mime_type": "text/markdown",
                "content": "# Terms for contractors\n\nPayment within 30 days of approval.\n"
                "Invoices must name the contractor's VAT id — no exceptions.\n".encode(),
            },
        ],
        "reports": [
            {
                "id": uid("report/monthly-totals"),
                "app_id": invoices,
                "name": "Monthly Invoice Totals",
                "definition": {
                    "layout": "table",
                    "datasets": [{"name": "totals", "query_id": q_totals}],
                    "columns": ["month", "invoices", "total"],
                    "format": {"total": "EUR"},
                },
            },
            {
                "id": uid("report/contractor-overview"),
                "app_id": contractors,
                "name": "Contractor Overview",
                "definition": {
                    "layout": "list",
                    "datasets": [{"name": "active", "query_id": q_active}],
                    "group_by": "name",
                },
            },
        ],
        "connectors": [
            {
                "id": uid("connector/accounting"),
                "app_id": invoices,
                "name": "Accounting API",
                "type": "rest",
                "base_url": "https://erp.dev.example.com/api/v2",
                "functions": [
                    {"name": "postInvoice", "method": "POST", "path": "/invoices"},
                    {"name": "getPaymentStatus", "method": "GET", "path": "/payments/{id}"},
                ],
                "credentials": credentials,
            },
        ],
    }
