"""CRM: customers, profile updates and one-time-code identity verification."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Literal

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, constr, validator
from sqlalchemy import func, select

from demoshop import serializers
from demoshop.app import database, mutation, parse_body
from demoshop.errors import ApiError, conflict, not_found
from demoshop.models import Customer, OutboxMessage, Verification
from demoshop.validation import AddressIn, check_email, check_phone

bp = Blueprint("crm", __name__)

CODE_TTL = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 3


class CustomerPatch(BaseModel):
    email: str | None = None
    phone: str | None = None
    address: AddressIn | None = None

    _email = validator("email", allow_reuse=True)(lambda v: None if v is None else check_email(v))
    _phone = validator("phone", allow_reuse=True)(lambda v: None if v is None else check_phone(v))

    class Config:
        extra = "forbid"


class VerificationStart(BaseModel):
    channel: Literal["email", "sms"] = "email"

    class Config:
        extra = "forbid"


class VerificationCheck(BaseModel):
    verification_id: constr(strip_whitespace=True, min_length=1, max_length=24)
    code: constr(strip_whitespace=True, regex=r"^\d{6}$")

    class Config:
        extra = "forbid"


@bp.get("/v1/customers/<customer_id>")
def get_customer(customer_id: str):
    with database().read() as s:
        customer = s.get(Customer, customer_id)
        if customer is None:
            raise not_found("customer", customer_id)
        return jsonify(serializers.customer(customer))


@bp.get("/v1/customers")
def find_customers():
    email = request.args.get("email")
    phone = request.args.get("phone")
    if not email and not phone:
        raise ApiError(400, "missing_filter", "Give email= or phone= to look a customer up.")
    query = select(Customer)
    if email:
        query = query.where(Customer.email == email.strip().lower())
    if phone:
        digits = "".join(ch for ch in phone if ch.isdigit())
        query = query.where(func.replace(func.replace(Customer.phone, " ", ""), "+", "") == digits)
    with database().read() as s:
        found = s.execute(query.limit(10)).scalars().all()
        return jsonify(serializers.customer_list(found))


@bp.patch("/v1/customers/<customer_id>")
def update_customer(customer_id: str):
    patch = parse_body(CustomerPatch)
    if patch.email is None and patch.phone is None and patch.address is None:
        raise ApiError(422, "validation_failed", "Nothing to update: give email, phone or address.")

    def act(s):
        customer = s.get(Customer, customer_id, with_for_update=True)
        if customer is None:
            raise not_found("customer", customer_id)
        if patch.email and patch.email != customer.email:
            taken = s.execute(select(Customer.id).where(Customer.email == patch.email)).first()
            if taken:
                raise conflict("email_taken", "Another customer already uses this email address.")
            customer.email = patch.email
        if patch.phone:
            customer.phone = patch.phone
        if patch.address:
            a = patch.address
            customer.address_line1, customer.address_line2 = a.line1, a.line2
            customer.city, customer.postcode, customer.country = a.city, a.postcode, a.country
        customer.updated_at = datetime.utcnow()
        s.flush()
        return 200, serializers.customer(customer)

    return mutation(patch, act)


@bp.post("/v1/customers/<customer_id>/verification")
def start_verification(customer_id: str):
    body = parse_body(VerificationStart)

    def act(s):
        customer = s.get(Customer, customer_id)
        if customer is None:
            raise not_found("customer", customer_id)
        now = datetime.utcnow()
        code = f"{secrets.randbelow(1_000_000):06d}"
        verification = Verification(
            id="ver_" + secrets.token_hex(8),
            customer_id=customer.id,
            channel=body.channel,
            code=code,
            attempts=0,
            status="pending",
            created_at=now,
            expires_at=now + CODE_TTL,
        )
        destination = customer.email if body.channel == "email" else customer.phone
        s.add(verification)
        s.add(
            OutboxMessage(
                customer_id=customer.id,
                channel=body.channel,
                destination=destination,
                subject="Your Larkspur Home verification code",
                body=f"Your verification code is {code}. It expires in 10 minutes.",
                created_at=now,
            )
        )
        return 201, serializers.verification(verification, _mask(destination, body.channel))

    return mutation(body, act)


@bp.post("/v1/customers/<customer_id>/verification/check")
def check_verification(customer_id: str):
    body = parse_body(VerificationCheck)

    def act(s):
        v = s.get(Verification, body.verification_id, with_for_update=True)
        if v is None or v.customer_id != customer_id:
            raise not_found("verification", body.verification_id)
        now = datetime.utcnow()
        if v.status == "pending" and now > v.expires_at:
            v.status = "expired"
        elif v.status == "pending":
            if secrets.compare_digest(v.code, body.code):
                v.status = "verified"
            else:
                v.attempts += 1
                if v.attempts >= MAX_CODE_ATTEMPTS:
                    v.status = "locked"
        return 200, serializers.verification_result(
            v,
            status="invalid" if v.status == "pending" else v.status,
            verified=v.status == "verified",
            attempts_left=max(0, MAX_CODE_ATTEMPTS - v.attempts) if v.status == "pending" else 0,
        )

    return mutation(body, act)


@bp.get("/v1/outbox")
def outbox():
    """Demo only: the emails and SMS the shop "sent", so a tester can read a verification code."""
    customer_id = request.args.get("customer_id")
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(20)
    if customer_id:
        query = query.where(OutboxMessage.customer_id == customer_id)
    with database().read() as s:
        rows = s.execute(query).scalars().all()
        return jsonify(
            {
                "messages": [
                    {
                        "id": m.id,
                        "customer_id": m.customer_id,
                        "channel": m.channel,
                        "destination": m.destination,
                        "subject": m.subject,
                        "body": m.body,
                        "created_at": serializers.iso(m.created_at),
                    }
                    for m in rows
                ]
            }
        )


def _mask(destination: str, channel: str) -> str:
    if channel == "email":
        name, _, domain = destination.partition("@")
        return f"{name[:1]}***@{domain}"
    digits = destination.replace(" ", "")
    return f"{digits[:3]}*****{digits[-2:]}"
