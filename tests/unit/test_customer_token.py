"""Guards actions/customer_token: only an HS256 JWT signed with CUSTOMER_TOKEN_SECRET, carrying sub/iat/exp,
not expired and living no longer than CUSTOMER_TOKEN_MAX_AGE, vouches for a customer; anything else (or no
secret configured) gives None."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from actions.customer_token import DEFAULT_MAX_AGE, issue, verify

SECRET = "unit-test-secret-" + "0123456789abcdef" * 4
ENV = {"CUSTOMER_TOKEN_SECRET": SECRET}


def sign(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def now() -> int:
    return int(time.time())


def test_a_fresh_token_vouches_for_its_customer():
    assert verify(issue("C1001", secret=SECRET), ENV) == "C1001"


def test_issued_token_has_the_documented_claims():
    token = issue("C1001", secret=SECRET, now=1_700_000_000)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})
    assert claims == {"sub": "C1001", "iat": 1_700_000_000, "exp": 1_700_000_000 + DEFAULT_MAX_AGE}
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


@pytest.mark.parametrize("environ", [{}, {"CUSTOMER_TOKEN_SECRET": ""}, {"OTHER": SECRET}])
def test_without_a_secret_tokens_are_ignored(environ):
    assert verify(issue("C1001", secret=SECRET), environ) is None


@pytest.mark.parametrize("token", [None, "", 123, b"bytes", "not.a.jwt", "garbage"])
def test_missing_or_malformed_tokens(token):
    assert verify(token, ENV) is None


def test_token_signed_with_another_secret_is_forged():
    assert verify(issue("C1001", secret="another-secret-0123456789abcdef0123456"), ENV) is None


def test_tampered_payload_is_rejected():
    header, _, signature = issue("C1001", secret=SECRET).split(".")
    claims = {"sub": "C9999", "iat": now(), "exp": now() + 600}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert verify(f"{header}.{payload}.{signature}", ENV) is None


def test_unsigned_none_algorithm_token_is_rejected():
    token = jwt.encode({"sub": "C1001", "iat": now(), "exp": now() + 600}, None, algorithm="none")
    assert verify(token, ENV) is None


def test_other_hmac_algorithm_with_the_right_secret_is_rejected():
    token = sign({"sub": "C1001", "iat": now(), "exp": now() + 600}, algorithm="HS512")
    assert verify(token, ENV) is None


def test_expired_token_is_rejected():
    assert verify(issue("C1001", secret=SECRET, now=now() - DEFAULT_MAX_AGE - 300), ENV) is None


def test_just_expired_token_is_within_the_clock_leeway():
    assert verify(issue("C1001", secret=SECRET, now=now() - DEFAULT_MAX_AGE - 5), ENV) == "C1001"


def test_token_issued_in_the_future_is_rejected():
    assert verify(sign({"sub": "C1001", "iat": now() + 86400, "exp": now() + 86400 + 600}), ENV) is None


@pytest.mark.parametrize("missing", ["sub", "iat", "exp"])
def test_tokens_missing_a_claim_are_rejected(missing):
    claims = {"sub": "C1001", "iat": now(), "exp": now() + 600}
    del claims[missing]
    assert verify(sign(claims), ENV) is None


def test_non_string_subject_is_rejected():
    assert verify(sign({"sub": 1001, "iat": now(), "exp": now() + 600}), ENV) is None


def test_lifetime_exactly_the_default_max_age_is_accepted():
    assert verify(issue("C1001", secret=SECRET, ttl_seconds=DEFAULT_MAX_AGE), ENV) == "C1001"


def test_lifetime_longer_than_the_default_max_age_is_rejected():
    assert verify(issue("C1001", secret=SECRET, ttl_seconds=DEFAULT_MAX_AGE + 1), ENV) is None


@pytest.mark.parametrize("ttl, expected", [(600, "C1001"), (601, None), (3600, None)])
def test_configured_max_age(ttl, expected):
    env = dict(ENV, CUSTOMER_TOKEN_MAX_AGE="600")
    assert verify(issue("C1001", secret=SECRET, ttl_seconds=ttl), env) == expected


def test_configured_max_age_can_allow_longer_tokens():
    env = dict(ENV, CUSTOMER_TOKEN_MAX_AGE="86400")
    assert verify(issue("C1001", secret=SECRET, ttl_seconds=86400), env) == "C1001"


def test_empty_max_age_falls_back_to_the_default():
    env = dict(ENV, CUSTOMER_TOKEN_MAX_AGE="")
    assert verify(issue("C1001", secret=SECRET, ttl_seconds=DEFAULT_MAX_AGE), env) == "C1001"
    assert verify(issue("C1001", secret=SECRET, ttl_seconds=DEFAULT_MAX_AGE + 1), env) is None
