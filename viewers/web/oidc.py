"""Staff sign-in through an OpenID Connect provider: the relying party, small and strict.

The authorization code flow of OpenID Connect Core 1.0 §3.1 with PKCE S256 (RFC 7636) and a
confidential client (``client_secret_basic``, RFC 6749 §2.3.1)::

    client = OidcClient(OidcConfig(issuer, client_id, client_secret, redirect_uri))
    begun = client.start()            # keep begun server-side (the session), send the user to begun.url
    identity = client.finish(request.query_params, begun)   # at redirect_uri

Every check that fails raises :class:`OidcError` with a stable ``code``; messages never carry tokens,
codes or personal data. Every HTTP call has a timeout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import jwt

from ledger.errors import Unauthenticated

# Asymmetric algorithms only: an HS* ID token would be keyed with the client secret, and 'none' is no signature.
ASYMMETRIC_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_OAUTH_ERROR = re.compile(r"[a-z0-9_.-]{1,64}")  # RFC 6749 error codes; anything else is not echoed


class OidcError(Unauthenticated):
    """A sign-in through the OpenID Provider failed; ``code`` says which check.

    Codes: ``bad_config``, ``unreachable`` (retriable), ``bad_discovery``, ``bad_issuer``,
    ``state_mismatch``, ``provider_error`` (the provider answered ``error=``), ``bad_response``,
    ``token_refused`` (the token endpoint refused the code, e.g. a replayed one), ``bad_token``,
    ``bad_signature``, ``bad_audience``, ``expired``, ``not_yet_valid``, ``nonce_mismatch``,
    ``bad_at_hash``, ``subject_mismatch``.
    """

    code = "oidc_error"

    def __init__(self, code: str, message: str, *, field: str | None = None, got: Any = None, retriable: bool = False) -> None:
        super().__init__(message, code=code, field=field, got=got, retriable=retriable)


@dataclass(frozen=True)
class OidcConfig:
    """Where the provider is and who Kiroku is to it. ``issuer`` is compared exactly (no trailing-slash games)."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    timeout: float = 10.0
    leeway: float = 30.0  # seconds of clock skew tolerated on exp / iat

    def __post_init__(self) -> None:
        for name in ("issuer", "redirect_uri"):
            url = urlsplit(getattr(self, name))
            secure = url.scheme == "https" or (url.scheme == "http" and url.hostname in LOOPBACK_HOSTS)
            if not url.hostname or not secure or url.fragment or (name == "issuer" and url.query):
                raise OidcError("bad_config", f"{name} must be an https URL (http only on loopback) without query or fragment",
                                field=name, got=getattr(self, name))
        if "openid" not in self.scopes:
            raise OidcError("bad_config", "scopes must include 'openid'", field="scopes", got=list(self.scopes))
        if not self.client_id or not self.client_secret:
            raise OidcError("bad_config", "client_id and client_secret are required", field="client_id")


@dataclass(frozen=True)
class Begin:
    """One sign-in under way: where to send the user, and the secrets to check the answer against."""

    url: str
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)


@dataclass(frozen=True)
class Identity:
    """The person the provider vouched for: ``(issuer, subject)`` identifies them; the rest describes them."""

    issuer: str
    subject: str
    name: str | None
    email: str | None
    claims: Mapping[str, Any] = field(repr=False)


class OidcClient:
    """The relying party for one provider and one client registration (thread-safe; discovery cached).

    ``clock`` (seconds since the epoch) is what exp and iat are compared with; tests may move it.
    """

    def __init__(self, config: OidcConfig, http: httpx.Client | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._own_http = http is None
        self.http = http if http is not None else httpx.Client(timeout=config.timeout, follow_redirects=False)
        self._lock = threading.Lock()
        self._discovery: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> OidcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- discovery (OpenID Connect Discovery 1.0 §4) ---------------------------------------------

    def discover(self) -> Mapping[str, Any]:
        """The provider's metadata, fetched once; its ``issuer`` must equal the configured one exactly (§4.3)."""
        with self._lock:
            if self._discovery is None:
                self._discovery = self._fetch_discovery()
            return self._discovery

    def _fetch_discovery(self) -> dict[str, Any]:
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        doc = self._json(self._send("GET", url, what="discovery"), what="discovery")
        if doc.get("issuer") != self.config.issuer:
            raise OidcError("bad_issuer", f"the discovery document names issuer {doc.get('issuer')!r}, "
                            f"not the configured {self.config.issuer!r}", field="issuer", got=doc.get("issuer"))
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(key), str) or not doc[key]:
                raise OidcError("bad_discovery", f"the discovery document has no {key}", field=key)
        offered = doc.get("id_token_signing_alg_values_supported") or []
        if not isinstance(offered, list) or not [a for a in offered if a in ASYMMETRIC_ALGS]:
            raise OidcError("bad_discovery", f"the provider signs ID tokens with none of {sorted(ASYMMETRIC_ALGS)}",
                            field="id_token_signing_alg_values_supported", got=offered)
        methods = doc.get("code_challenge_methods_supported")
        if methods is not None and "S256" not in methods:
            raise OidcError("bad_discovery", "the provider does not offer PKCE S256", field="code_challenge_methods_supported",
                            got=methods)
        return doc

    def _algorithms(self) -> list[str]:
        return [a for a in self.discover()["id_token_signing_alg_values_supported"] if a in ASYMMETRIC_ALGS]

    def _jwk_client(self) -> jwt.PyJWKClient:
        jwks_uri = self.discover()["jwks_uri"]
        with self._lock:
            if self._jwks is None:
                # Keys cached; an unknown kid refetches the set once (key rotation), then fails.
                self._jwks = jwt.PyJWKClient(jwks_uri, cache_keys=True, timeout=self.config.timeout)
            return self._jwks

    # -- the authorization request (Core §3.1.2.1, RFC 7636 §4) ----------------------------------

    def start(self) -> Begin:
        """A fresh sign-in: random state, nonce and PKCE verifier, and the authorization URL carrying them."""
        endpoint = self.discover()["authorization_endpoint"]
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        query = urlencode({
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": _b64url(hashlib.sha256(verifier.encode("ascii")).digest()),
            "code_challenge_method": "S256",
        })
        return Begin(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", state, nonce, verifier)

    # -- the answer at redirect_uri (Core §3.1.2.5-7, RFC 9207) ----------------------------------

    def finish(self, params: Mapping[str, str], begun: Begin) -> Identity:
        """Check the authorization response, exchange its code and verify the ID token; who signed in."""
        state = params.get("state")
        if not isinstance(state, str) or not hmac.compare_digest(state.encode(), begun.state.encode()):
            raise OidcError("state_mismatch", "the answer's state is not the one this sign-in sent", field="state")
        doc = self.discover()
        iss = params.get("iss")
        if iss is not None or doc.get("authorization_response_iss_parameter_supported") is True:
            if iss != self.config.issuer:  # RFC 9207 §2.4: a mix-up with another provider
                raise OidcError("bad_issuer", "the answer's iss is not the configured issuer", field="iss", got=iss)
        if "error" in params:
            error = params["error"]
            shown = error if _OAUTH_ERROR.fullmatch(error) else "(unprintable)"
            raise OidcError("provider_error", f"the provider refused the sign-in: {shown}", field="error", got=shown)
        code = params.get("code")
        if not isinstance(code, str) or not code:
            raise OidcError("bad_response", "the answer carries neither a code nor an error", field="code")
        tokens = self._exchange(code, begun.code_verifier)
        claims = self.verify_id_token(tokens["id_token"], nonce=begun.nonce, access_token=tokens.get("access_token"))
        claims = self._with_userinfo(claims, tokens.get("access_token"))
        return Identity(issuer=claims["iss"], subject=claims["sub"], name=_text(claims.get("name")),
                        email=_text(claims.get("email")), claims=claims)

    def _exchange(self, code: str, verifier: str) -> dict[str, Any]:
        """The token request (Core §3.1.3.1) with client_secret_basic: id and secret form-encoded, then Basic."""
        credentials = f"{quote(self.config.client_id, safe='')}:{quote(self.config.client_secret, safe='')}"
        response = self._send(
            "POST", self.discover()["token_endpoint"], what="token",
            headers={"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode("ascii"),
                     "Accept": "application/json"},
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": self.config.redirect_uri,
                  "code_verifier": verifier},
        )
        if response.status_code in (400, 401):
            try:
                error = response.json().get("error", "")
            except ValueError:
                error = ""
            shown = error if isinstance(error, str) and _OAUTH_ERROR.fullmatch(error) else "(unknown)"
            raise OidcError("token_refused", f"the token endpoint refused the code: {shown}", field="code", got=shown)
        tokens = self._json(response, what="token")
        if not isinstance(tokens.get("id_token"), str):
            raise OidcError("bad_response", "the token response has no id_token", field="id_token")
        if str(tokens.get("token_type", "")).lower() != "bearer":
            raise OidcError("bad_response", "the token response's token_type is not Bearer", field="token_type")
        return tokens

    # -- the ID token (Core §3.1.3.7) ------------------------------------------------------------

    def verify_id_token(self, token: str, *, nonce: str, access_token: str | None = None) -> dict[str, Any]:
        """The ID token's claims once signature, iss, aud/azp, exp/iat, nonce and at_hash all check out."""
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.DecodeError:
            raise OidcError("bad_token", "the ID token is not a JWS", field="id_token") from None
        algorithms = self._algorithms()
        if alg not in algorithms:
            raise OidcError("bad_signature", f"the ID token is signed with {alg!r}, not one of {algorithms}",
                            field="alg", got=alg if isinstance(alg, str) else None)
        try:
            key = self._jwk_client().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError:
            raise OidcError("unreachable", "the provider's JWKS could not be fetched", field="jwks_uri", retriable=True) from None
        except (jwt.PyJWKClientError, jwt.DecodeError):
            raise OidcError("bad_signature", "no key in the provider's JWKS matches the ID token", field="kid") from None
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=[alg], audience=self.config.client_id, issuer=self.config.issuer,
                options={"require": ["iss", "sub", "aud", "exp", "iat"],  # times: checked below, against self.clock
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidSignatureError:
            raise OidcError("bad_signature", "the ID token's signature does not verify", field="id_token") from None
        except jwt.InvalidAudienceError:
            raise OidcError("bad_audience", "the ID token was not issued to this client", field="aud") from None
        except jwt.InvalidIssuerError:
            raise OidcError("bad_issuer", "the ID token's iss is not the configured issuer", field="iss") from None
        except jwt.MissingRequiredClaimError as exc:
            raise OidcError("bad_token", f"the ID token lacks the {exc.claim} claim", field=exc.claim) from None
        except jwt.InvalidTokenError:
            raise OidcError("bad_token", "the ID token is malformed", field="id_token") from None
        self._check_times(claims)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.config.client_id:  # Core §3.1.3.7 items 4-5
            raise OidcError("bad_audience", "the ID token's azp is not this client", field="azp")
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise OidcError("bad_token", "the ID token's sub is empty", field="sub")
        got_nonce = claims.get("nonce")
        if not isinstance(got_nonce, str) or not hmac.compare_digest(got_nonce.encode(), nonce.encode()):
            raise OidcError("nonce_mismatch", "the ID token's nonce is not the one this sign-in sent", field="nonce")
        if "at_hash" in claims and access_token is not None:
            if not hmac.compare_digest(str(claims["at_hash"]).encode(), _token_hash(alg, access_token).encode()):
                raise OidcError("bad_at_hash", "the ID token's at_hash does not match the access token", field="at_hash")
        return claims

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        now, leeway = self.clock(), self.config.leeway
        for name in ("exp", "iat", "nbf"):
            value = claims.get(name)
            if (name != "nbf" or value is not None) and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise OidcError("bad_token", f"the ID token's {name} is not a number", field=name)
        if now > claims["exp"] + leeway:
            raise OidcError("expired", "the ID token has expired", field="exp")
        if claims["iat"] > now + leeway:
            raise OidcError("not_yet_valid", "the ID token is issued in the future", field="iat")
        if claims.get("nbf") is not None and claims["nbf"] > now + leeway:
            raise OidcError("not_yet_valid", "the ID token is not valid yet", field="nbf")

    # -- UserInfo (Core §5.3): profile and email claims many providers keep out of the ID token --------

    def _with_userinfo(self, claims: dict[str, Any], access_token: str | None) -> dict[str, Any]:
        endpoint = self.discover().get("userinfo_endpoint")
        wanted = {"profile": "name", "email": "email"}
        missing = [claim for scope, claim in wanted.items() if scope in self.config.scopes and claim not in claims]
        if not missing or not isinstance(endpoint, str) or not access_token:
            return claims
        response = self._send("GET", endpoint, what="userinfo", headers={"Authorization": f"Bearer {access_token}",
                                                                         "Accept": "application/json"})
        info = self._json(response, what="userinfo")
        if info.get("sub") != claims["sub"]:  # §5.3.2: the UserInfo sub MUST be verified to match
            raise OidcError("subject_mismatch", "the UserInfo response is about another subject", field="sub")
        return {**info, **claims}

    # -- HTTP ------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, url, timeout=self.config.timeout, follow_redirects=False, **kwargs)
        except httpx.HTTPError as exc:
            raise OidcError("unreachable", f"the provider's {what} endpoint did not answer ({type(exc).__name__})",
                            field=what, retriable=True) from None
        if response.status_code >= 500:
            raise OidcError("unreachable", f"the provider's {what} endpoint answered HTTP {response.status_code}",
                            field=what, got=response.status_code, retriable=True)
        return response

    @staticmethod
    def _json(response: httpx.Response, *, what: str) -> dict[str, Any]:
        code = "bad_discovery" if what == "discovery" else "bad_response"
        if response.status_code != 200:
            raise OidcError(code, f"the provider's {what} endpoint answered HTTP {response.status_code}", field=what,
                            got=response.status_code)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise OidcError(code, f"the provider's {what} answer is not a JSON object", field=what)
        return body


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _token_hash(alg: str, token: str) -> str:
    """at_hash / c_hash (Core §3.1.3.6): the left half of the token's hash under the alg's hash, base64url."""
    if alg == "EdDSA":
        digest = hashlib.sha512(token.encode("ascii")).digest()  # Ed25519 (OpenID Connect errata: SHA-512)
    else:
        digest = jwt.get_algorithm_by_name(alg).compute_hash_digest(token.encode("ascii"))
    return _b64url(digest[: len(digest) // 2])


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
