"""The demo shop's OpenAPI description, served at `GET /openapi.json`.

It exists so that tools that read OpenAPI (schemathesis in `make fuzz`, a developer's HTTP client) know every
operation of the v1 API without reading the code. The schemas are generated from the pydantic models the shop
itself uses: the request bodies it validates (demoshop/api/) and the contract's records it answers with
(contract/v1/). Only the list of operations is written here: path, method, parameters, body and answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, jsonify
from pydantic import BaseModel
from pydantic.schema import get_flat_models_from_models, get_model_name_map, schema

from contract import v1
from demoshop.api.crm import CustomerPatch, VerificationCheck, VerificationStart
from demoshop.api.helpdesk import MessageRequest, TicketRequest
from demoshop.api.orders import CancelRequest, EmptyBody
from demoshop.api.payments import RefundRequest
from demoshop.api.returns import ReturnRequest
from demoshop.models import ORDER_STATUSES
from demoshop.validation import AddressIn

REF = "#/components/schemas/"
ERROR = "Error"
OUTBOX = "Outbox"
HEALTH = "Health"

bp = Blueprint("openapi", __name__)


@dataclass(frozen=True)
class Param:
    """A path or query parameter of an operation."""

    name: str
    where: str  # "path" or "query"
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Operation:
    """One operation of the API: what it takes and what it answers on success."""

    method: str
    path: str
    summary: str
    status: int
    answer: str  # a schema name under components/schemas
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    authenticated: bool = True

    @property
    def mutation(self) -> bool:
        return self.method in ("post", "put", "patch")


def _id(name: str, schema_: dict[str, Any] | None = None) -> Param:
    return Param(name, "path", schema_ or {"type": "string"}, required=True)


def _query(name: str, schema_: dict[str, Any] | None = None) -> Param:
    return Param(name, "query", schema_ or {"type": "string"})


TICKET_ID = {"type": "integer"}
OPERATIONS: tuple[Operation, ...] = (
    Operation("get", "/health", "Whether the shop and its database answer", 200, HEALTH, authenticated=False),
    Operation("get", "/v1/customers", "Look a customer up by email or phone", 200, "CustomerList",
              (_query("email"), _query("phone"))),
    Operation("get", "/v1/customers/{customer_id}", "A customer", 200, "Customer", (_id("customer_id"),)),
    Operation("patch", "/v1/customers/{customer_id}", "Change a customer's email, phone or address", 200,
              "Customer", (_id("customer_id"),), CustomerPatch),
    Operation("post", "/v1/customers/{customer_id}/verification", "Send a one-time code", 201, "Verification",
              (_id("customer_id"),), VerificationStart),
    Operation("post", "/v1/customers/{customer_id}/verification/check", "Check a one-time code", 200,
              "VerificationResult", (_id("customer_id"),), VerificationCheck),
    Operation("get", "/v1/outbox", "Demo only: the emails and SMS the shop sent", 200, OUTBOX,
              (_query("customer_id"),)),
    Operation("get", "/v1/orders", "A page of orders, filtered", 200, "OrderPage",
              (_query("customer_id"), _query("status", {"type": "string", "enum": list(ORDER_STATUSES)}),
               _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
               _query("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000}))),
    Operation("get", "/v1/orders/{order_id}", "An order", 200, "Order", (_id("order_id"),)),
    Operation("post", "/v1/orders/{order_id}/cancel", "Cancel an order before it ships", 200, "CancelResult",
              (_id("order_id"),), CancelRequest),
    Operation("put", "/v1/orders/{order_id}/shipping-address", "Change where an order goes, before it ships", 200,
              "Order", (_id("order_id"),), AddressIn),
    Operation("post", "/v1/orders/{order_id}/invoice", "Email the invoice of a paid order", 201, "Invoice",
              (_id("order_id"),), EmptyBody),
    Operation("get", "/v1/returns", "The returns of an order", 200, "ReturnList",
              (Param("order_id", "query", {"type": "string"}, required=True),)),
    Operation("post", "/v1/returns", "Start a return of an order's items", 201, "Return", (), ReturnRequest),
    Operation("get", "/v1/returns/{return_id}", "A return", 200, "Return", (_id("return_id"),)),
    Operation("post", "/v1/returns/{return_id}/ship", "Demo: the carrier scanned the returned parcel", 200,
              "Return", (_id("return_id"),), EmptyBody),
    Operation("post", "/v1/returns/{return_id}/receive", "Demo: the warehouse received the return", 200,
              "Return", (_id("return_id"),), EmptyBody),
    Operation("get", "/v1/payments", "The charges and refunds of an order", 200, "PaymentRecord",
              (Param("order_id", "query", {"type": "string"}, required=True),)),
    Operation("post", "/v1/refunds", "Refund an order, in full or in part", 201, "Refund", (), RefundRequest),
    Operation("get", "/v1/refunds/{refund_id}", "A refund", 200, "Refund", (_id("refund_id"),)),
    Operation("get", "/v1/tickets", "The tickets of a conversation or a customer, newest first", 200, "TicketList",
              (_query("conversation_id"), _query("customer_id"),
               _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}),
               _query("offset", {"type": "integer", "minimum": 0, "maximum": 1_000_000}))),
    Operation("post", "/v1/tickets", "Open a helpdesk ticket (a handoff)", 201, "Ticket", (), TicketRequest),
    Operation("get", "/v1/tickets/{ticket_id}", "A ticket with its messages", 200, "Ticket",
              (_id("ticket_id", TICKET_ID),)),
    Operation("post", "/v1/tickets/{ticket_id}/messages", "Add a message to a ticket", 201, "TicketMessage",
              (_id("ticket_id", TICKET_ID),), MessageRequest),
    Operation("post", "/v1/tickets/{ticket_id}/erasure", "Erase a ticket's texts and whom it is about (GDPR)", 200,
              "Ticket", (_id("ticket_id", TICKET_ID),), EmptyBody),
)  # fmt: skip

RECORDS: tuple[type[BaseModel], ...] = (
    v1.Customer,
    v1.CustomerList,
    v1.Verification,
    v1.VerificationResult,
    v1.Order,
    v1.OrderPage,
    v1.CancelResult,
    v1.Invoice,
    v1.PaymentRecord,
    v1.Return,
    v1.ReturnList,
    v1.Refund,
    v1.Ticket,
    v1.TicketList,
    v1.TicketMessage,
)

SHOP_SCHEMAS: dict[str, dict[str, Any]] = {
    ERROR: {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
            }
        },
    },
    HEALTH: {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    OUTBOX: {
        "type": "object",
        "required": ["messages"],
        "properties": {"messages": {"type": "array", "items": {"type": "object"}}},
    },
}


def component_schemas() -> dict[str, dict[str, Any]]:
    """Every schema the operations name: the pydantic models' own, with `None`-able fields allowed to be null."""
    models = list(RECORDS) + [op.body for op in OPERATIONS if op.body is not None]
    definitions = schema(models, ref_prefix=REF)["definitions"]
    flat = get_flat_models_from_models(set(models))
    for model, name in get_model_name_map(flat).items():
        properties = definitions.get(name, {}).get("properties", {})
        for name, model_field in model.__fields__.items():
            key = model_field.alias or name
            if model_field.allow_none and key in properties:
                properties[key] = {"anyOf": [properties[key], {"type": "null"}]}
    return {**definitions, **SHOP_SCHEMAS}


def _json(name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": REF + name}}}


def _operation(op: Operation) -> dict[str, Any]:
    parameters = [{"name": p.name, "in": p.where, "required": p.required, "schema": p.schema} for p in op.params]
    if op.mutation:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            }
        )
    described: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_').replace('{', '').replace('}', '')}",
        "parameters": parameters,
        "responses": {
            str(op.status): {"description": op.summary, "content": _json(op.answer)},
            "4XX": {"description": "Refused: the error says why", "content": _json(ERROR)},
        },
    }
    if op.answer == HEALTH:
        described["responses"]["503"] = {"description": "The database does not answer", "content": _json(HEALTH)}
    if op.body is not None:
        described["requestBody"] = {"required": False, "content": _json(op.body.__name__)}
    if op.authenticated:
        described["security"] = [{"apiKey": []}]
    return described


def openapi_document() -> dict[str, Any]:
    """The whole OpenAPI 3.1 document of the demo shop."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Larkspur demo shop (v1 backend contract)",
            "version": "1",
            "description": "CRM, orders, payments and helpdesk as the assistant's backend clients call them.",
        },
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
def openapi_json():
    """Serve the description (no key needed: it holds no data)."""
    return jsonify(openapi_document())
