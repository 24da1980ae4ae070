"""The authorize flow driven as a browser would, and the token endpoint, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import requests

TOKEN_KEYS = {"token_type", "expires_in", "access_token", "refresh_token"}


def test_owner_authorizes_and_callback_gets_code_and_state(emulator, flow) -> None:
    with requests.Session() as browser:
        login_page = flow.start_authorize(browser, emulator.url)
        assert login_page.status_code == 200
        assert "name='username'" in login_page.text and "name='password'" in login_page.text

        consent = flow.log_in(browser, emulator.url, login_page.text, "owner", "owner")
        assert consent.status_code == 200
        assert "Authorize Application" in consent.text
        assert "employee:admin_employees" in consent.text  # the requested scopes are listed

        params = flow.callback_params(flow.decide(browser, emulator.url, consent.text, "authorize"))
    assert params["state"] == "xyz-state"
    assert len(params["code"]) > 20


def test_registered_redirect_uri_is_used_when_none_is_given(make_emulator, flow) -> None:
    emulator = make_emulator(redirect_uri="http://127.0.0.1:9/registered?x=1")
    with requests.Session() as browser:
        params = {"response_type": "code", "client_id": "demo-client", "scope": "employee:register"}
        page = browser.get(f"{emulator.url}/auth/oauth/authorize", params=params, timeout=10).text
        page = flow.log_in(browser, emulator.url, page, "owner", "owner").text
        response = flow.decide(browser, emulator.url, page, "authorize")
    assert response.headers["Location"].startswith("http://127.0.0.1:9/registered?x=1&code=")
    assert "state=" not in response.headers["Location"]


def test_clerk_may_not_authorize(emulator, flow) -> None:
    with requests.Session() as browser:
        page = flow.start_authorize(browser, emulator.url).text
        refused = flow.log_in(browser, emulator.url, page, "clerk", "clerk")
    assert refused.status_code == 403
    assert "Login failed" in refused.text
    assert "may not authorize" in refused.text and "account owner" in refused.text


def test_wrong_password_shows_login_failed_and_the_form_again(emulator, flow) -> None:
    with requests.Session() as browser:
        page = flow.start_authorize(browser, emulator.url).text
        refused = flow.log_in(browser, emulator.url, page, "owner", "not-the-password")
        assert refused.status_code == 401
        assert "Login failed" in refused.text
        # The same form can be retried with the right password.
        retry = flow.log_in(browser, emulator.url, refused.text, "owner", "owner")
    assert retry.status_code == 200 and "Authorize Application" in retry.text


def test_deny_redirects_with_access_denied_and_state(emulator, flow) -> None:
    with requests.Session() as browser:
        page = flow.start_authorize(browser, emulator.url).text
        page = flow.log_in(browser, emulator.url, page, "owner", "owner").text
        params = flow.callback_params(flow.decide(browser, emulator.url, page, "deny"))
    assert params["error"] == "access_denied"
    assert params["state"] == "xyz-state"
    assert "code" not in params


def test_unknown_client_gets_invalid_client_page(emulator, flow) -> None:
    with requests.Session() as browser:
        response = flow.start_authorize(browser, emulator.url, client_id="someone-else")
    assert response.status_code == 400
    assert "invalid_client" in response.text


def test_unknown_scope_gets_invalid_scope_page(emulator, flow) -> None:
    with requests.Session() as browser:
        response = flow.start_authorize(browser, emulator.url, scope="employee:register root")
    assert response.status_code == 400
    assert "invalid_scope" in response.text and "root" in response.text


def _code_fields(code: str) -> dict[str, str]:
    return {
        "client_id": "demo-client",
        "client_secret": "demo-secret",
        "grant_type": "authorization_code",
        "code": code,
    }


def test_token_exchange_accepts_form_multipart_and_json(emulator, flow) -> None:
    url = f"{emulator.url}/auth/oauth/token"
    form = requests.post(url, data=_code_fields(flow.authorization_code(emulator.url)), timeout=10)
    multipart_fields = {
        k: (None, v) for k, v in _code_fields(flow.authorization_code(emulator.url)).items()
    }
    multipart = requests.post(url, files=multipart_fields, timeout=10)
    as_json = requests.post(
        url, json=_code_fields(flow.authorization_code(emulator.url)), timeout=10
    )

    assert "multipart/form-data" in multipart.request.headers["Content-Type"]
    for response in (form, multipart, as_json):
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == TOKEN_KEYS  # no `scope` since the 2024 server
        assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
        assert body["refresh_token"].startswith("def50200")


def test_access_token_is_an_rs256_jwt_verifiable_with_the_jwks(emulator, flow) -> None:
    token = flow.tokens(emulator.url, scope="employee:register employee:reports")["access_token"]
    jwks = requests.get(f"{emulator.url}/.well-known/jwks", timeout=10).json()
    header = jwt.get_unverified_header(token)
    (key,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    public_key = jwt.PyJWK(key).key

    claims = jwt.decode(
        token,
        public_key,
        algorithms=["RS256"],
        audience="demo-client",
        options={"verify_exp": False},
    )
    assert header["alg"] == "RS256"
    assert claims["acct"] == "120645"
    assert claims["sub"] == "1"  # the owner's employee ID
    assert claims["scope"] == "employee:register employee:reports"
    assert claims["exp"] - claims["iat"] == 3600
    assert {"iss", "nbf", "jti"} <= set(claims)


def test_code_expires_after_code_ttl(make_emulator, flow) -> None:
    emulator = make_emulator(code_ttl=60)
    code = flow.authorization_code(emulator.url)
    emulator.wall.advance(61)
    response = flow.exchange(emulator.url, code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["hint"] == "Authorization code has expired"


def test_code_is_single_use(emulator, flow) -> None:
    code = flow.authorization_code(emulator.url)
    assert flow.exchange(emulator.url, code).status_code == 200
    again = flow.exchange(emulator.url, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["hint"] == "Authorization code has been revoked"


def test_pkce_verifier_is_checked(emulator, flow) -> None:
    verifier = "a-long-random-verifier-string-of-enough-length-1234567890"
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    code = flow.authorization_code(
        emulator.url, code_challenge=challenge, code_challenge_method="S256"
    )
    assert (
        flow.exchange(emulator.url, code, code_verifier="wrong").json()["error"] == "invalid_grant"
    )
    code = flow.authorization_code(
        emulator.url, code_challenge=challenge, code_challenge_method="S256"
    )
    assert flow.exchange(emulator.url, code, code_verifier=verifier).status_code == 200


def test_bad_client_credentials_get_401_invalid_client(emulator, flow) -> None:
    code = flow.authorization_code(emulator.url)
    response = flow.exchange(emulator.url, code, client_secret="wrong")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "wrong" not in response.text and "demo-secret" not in response.text


def test_http_basic_client_authentication_is_accepted(emulator, flow) -> None:
    code = flow.authorization_code(emulator.url)
    response = requests.post(
        f"{emulator.url}/auth/oauth/token",
        data={"grant_type": "authorization_code", "code": code},
        auth=("demo-client", "demo-secret"),
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_missing_fields_get_invalid_request_with_hint(emulator) -> None:
    url = f"{emulator.url}/auth/oauth/token"
    no_grant = requests.post(
        url, data={"client_id": "demo-client", "client_secret": "demo-secret"}, timeout=10
    )
    no_code = requests.post(
        url,
        data={
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "grant_type": "authorization_code",
        },
        timeout=10,
    )
    no_refresh = requests.post(
        url,
        data={
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "grant_type": "refresh_token",
        },
        timeout=10,
    )
    for response, field in (
        (no_grant, "grant_type"),
        (no_code, "code"),
        (no_refresh, "refresh_token"),
    ):
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
        assert f"`{field}`" in response.json()["hint"]


def test_get_on_token_endpoint_is_405_invalid_request(emulator) -> None:
    response = requests.get(f"{emulator.url}/auth/oauth/token", timeout=10)
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


def test_broken_json_body_is_invalid_request(emulator) -> None:
    response = requests.post(
        f"{emulator.url}/auth/oauth/token",
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_introspect_describes_a_live_token_and_revoke_kills_the_refresh_token(
    emulator, flow
) -> None:
    pair = flow.tokens(emulator.url, scope="employee:register")
    headers = {"Authorization": f"Bearer {pair['access_token']}"}
    info = requests.get(f"{emulator.url}/auth/oauth/introspect", headers=headers, timeout=10).json()
    assert info["active"] is True and info["scope"] == "employee:register"

    revoke = requests.post(
        f"{emulator.url}/auth/oauth/revoke",
        json={
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "refresh_token": pair["refresh_token"],
        },
        timeout=10,
    )
    assert revoke.status_code == 200
    after = flow.refresh(emulator.url, pair["refresh_token"])
    assert after.status_code == 400 and after.json()["hint"] == "Token has been revoked"
    dead = requests.get(f"{emulator.url}/auth/oauth/introspect", headers=headers, timeout=10)
    assert json.loads(dead.text) == {"active": False}
