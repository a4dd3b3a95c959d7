"""Signing in through an institution's OpenID Connect provider: the authorization code flow with PKCE (S256),
state and nonce, through Authlib's OAuth 2 client; the ID token's signature (the provider's published keys),
issuer, audience, expiry and nonce verified with joserfc.

A sign-in started here is kept in ``oidc_pending`` under the SHA-256 of its state, and taken (deleted) when the
browser comes back: a state works once, for ten minutes, and only in the browser that started it (the caller
compares the state with the one in that browser's cookie). The account is found by the provider's subject, else
(once) by a verified email, else created when the provider allows it; its roles named in the provider's role
table follow the claims at every sign-in (roles given otherwise are left alone).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc6749.errors import OAuth2Error
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete, insert, select, update

from workflow.clock import Clock
from workflow.config import OidcProvider
from workflow.errors import WorkflowError
from workflow.services.signin_log import Client, SignInLog
from workflow.store.database import Database
from workflow.store.people import ASSIGNMENT, ORG_UNIT, USER, OidcPending

PENDING = OidcPending.__table__  # type: ignore[attr-defined]
PENDING_FOR = timedelta(minutes=10)
METADATA_FOR = 3600.0  # seconds a provider's configuration and keys are reused
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY = 60  # seconds of clock difference allowed with the provider


class SignInRefused(WorkflowError):
    """A sign-in through a provider was refused; ``reason`` says why in people's words (never a secret)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the state to keep in its cookie."""

    url: str
    state: str


@dataclass(frozen=True)
class SignedIn:
    """The outcome of a provider sign-in."""

    user_id: int
    next_path: str
    created: bool


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class OidcSignIn:
    """The providers configured, and the two halves of a sign-in through one of them."""

    def __init__(self, database: Database, clock: Clock, log: SignInLog, providers: tuple[OidcProvider, ...], *,
                 public_url: str, known_roles: set[str], http: httpx.Client | None = None) -> None:
        self._db = database
        self._clock = clock
        self._log = log
        self.providers = {p.key: p for p in providers}
        self._public_url = public_url.rstrip("/")
        self._roles = known_roles
        self._http = http or httpx.Client(timeout=10.0)
        self._metadata: dict[str, tuple[float, dict[str, Any]]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    def close(self) -> None:
        """Close the connections to the providers."""
        self._http.close()

    def redirect_uri(self, key: str) -> str:
        """The address to register with the provider."""
        return f"{self._public_url}/login/oidc/{key}/callback"

    def provider(self, key: str) -> OidcProvider:
        """A configured provider.

        Raises:
            SignInRefused: no such provider.
        """
        found = self.providers.get(key)
        if found is None:
            raise SignInRefused("there is no such way to sign in here")
        return found

    def start(self, key: str, *, next_path: str) -> Started:
        """Begin a sign-in: returns the provider's authorization address (with state, nonce and the PKCE
        challenge) and the state for the browser's cookie."""
        provider = self.provider(key)
        metadata = self._provider_metadata(provider)
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        with self._client(provider) as client:
            url, _ = client.create_authorization_url(metadata["authorization_endpoint"], state=state, nonce=nonce,
                                                     code_verifier=verifier)
        now = self._clock.now()
        with self._db.begin() as conn:
            conn.execute(delete(PENDING).where(PENDING.c.created_at < now - PENDING_FOR))
            conn.execute(PENDING.insert(), {"state_hash": _hash(state), "provider": key, "nonce": nonce,
                                            "code_verifier": verifier, "next_path": next_path[:500],
                                            "created_at": now})
        return Started(str(url), state)

    def finish(self, key: str, *, params: dict[str, str], browser_state: str, client: Client) -> SignedIn:
        """Complete a sign-in from the provider's answer (the callback's query parameters).

        Raises:
            SignInRefused: anything wrong: a state not from this browser, used before or too old; the provider's
                error; a token it would not give; an ID token that fails verification; no account, or one
                switched off.
        """
        provider = self.provider(key)
        method = provider.display_name
        try:
            return self._finish(provider, params, browser_state, client)
        except SignInRefused as refused:
            self._log.record("failure", method=method, client=client, detail=refused.reason,
                             username=getattr(refused, "username", ""))
            raise

    def _finish(self, provider: OidcProvider, params: dict[str, str], browser_state: str,
                client: Client) -> SignedIn:
        state = params.get("state", "")
        if not state or not browser_state or not secrets.compare_digest(state, browser_state):
            raise SignInRefused("this sign-in did not start in this browser (or its state was changed)")
        with self._db.begin() as conn:
            pending = conn.execute(delete(PENDING).where(PENDING.c.state_hash == _hash(state))
                                   .returning(PENDING.c.provider, PENDING.c.nonce, PENDING.c.code_verifier,
                                              PENDING.c.next_path, PENDING.c.created_at)).first()
        if pending is None or pending.provider != provider.key:
            raise SignInRefused("this sign-in was already used or is unknown; start again")
        if self._clock.now() - pending.created_at > PENDING_FOR:
            raise SignInRefused("this sign-in took too long; start again")
        if "error" in params:
            raise SignInRefused(f"{provider.display_name} did not sign you in "
                                f"({_plain(params.get('error_description') or params['error'])})")
        metadata = self._provider_metadata(provider)
        if "iss" in params and params["iss"] != metadata["issuer"]:  # RFC 9207: the answer names its issuer
            raise SignInRefused("the answer came from another provider than the one asked")
        code = params.get("code", "")
        if not code:
            raise SignInRefused(f"{provider.display_name} sent no authorization code")
        try:
            oauth = self._client(provider)
            with oauth:
                token = oauth.fetch_token(metadata["token_endpoint"], code=code,
                                          code_verifier=pending.code_verifier, grant_type="authorization_code")
        except (OAuth2Error, httpx.HTTPError, ValueError) as problem:
            raise SignInRefused(f"{provider.display_name} would not confirm the sign-in "
                                f"({_plain(getattr(problem, 'description', '') or type(problem).__name__)})") \
                from None
        claims = self._verified_claims(provider, str(token.get("id_token", "")), nonce=pending.nonce)
        claims = self._with_userinfo(metadata, str(token.get("access_token", "")), claims)
        user_id, created = self._account(provider, claims, client)
        return SignedIn(user_id, pending.next_path, created)

    def end_session_url(self, key: str, *, after: str) -> str | None:
        """The provider's end-session address (RP-initiated logout) to send the browser to, if it has one."""
        provider = self.providers.get(key)
        if provider is None:
            return None
        try:
            endpoint = self._provider_metadata(provider).get("end_session_endpoint")
        except SignInRefused:
            return None
        if not endpoint:
            return None
        return str(httpx.URL(endpoint, params={"client_id": provider.client_id, "post_logout_redirect_uri": after}))

    # -- the ID token -------------------------------------------------------------------------------------

    def _verified_claims(self, provider: OidcProvider, id_token: str, *, nonce: str) -> dict[str, Any]:
        if not id_token:
            raise SignInRefused(f"{provider.display_name} sent no ID token")
        try:
            decoded = jwt.decode(id_token, self._key_set(provider), algorithms=ALGORITHMS)
        except JoseError:
            try:  # the provider may have rotated its keys since they were read
                decoded = jwt.decode(id_token, self._key_set(provider, fresh=True), algorithms=ALGORITHMS)
            except JoseError:
                raise SignInRefused("the ID token's signature is not the provider's") from None
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock.now().timestamp()), leeway=LEEWAY,
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
            nonce={"essential": True, "value": nonce})
        claims = dict(decoded.claims)
        try:
            registry.validate(claims)
        except JoseError as problem:
            claim = "exp" if isinstance(problem, ExpiredTokenError) else getattr(problem, "claim", "") or ""
            reason = {"iss": "the ID token was issued by another provider",
                      "aud": "the ID token was made for another service",
                      "exp": "the ID token has expired",
                      "iat": "the ID token's issue time is wrong",
                      "nonce": "the ID token does not belong to this sign-in (nonce)",
                      "sub": "the ID token names nobody"}.get(claim, f"the ID token is not valid ({problem.error})")
            raise SignInRefused(reason) from None
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != provider.client_id:
            raise SignInRefused("the ID token was made for another service")
        return claims

    def _with_userinfo(self, metadata: dict[str, Any], access_token: str, claims: dict[str, Any]) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not endpoint or not access_token:
            return claims
        try:
            answer = self._http.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})
            info = answer.json() if answer.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            info = {}
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            return claims  # the user info of another subject is never mixed in
        return {**info, **claims}

    # -- the account ---------------------------------------------------------------------------------------

    def _account(self, provider: OidcProvider, claims: dict[str, Any], client: Client) -> tuple[int, bool]:
        subject = str(claims["sub"])
        email = str(claims.get("email") or "").strip()
        verified = claims.get("email_verified", True) is not False
        created = False
        with self._db.begin() as conn:
            user = conn.execute(select(USER.c.id, USER.c.active, USER.c.username).where(
                USER.c.oidc_issuer == provider.issuer, USER.c.oidc_subject == subject)).first()
            if user is None and provider.match_email and email and verified:
                user = conn.execute(select(USER.c.id, USER.c.active, USER.c.username).where(
                    USER.c.email == email, USER.c.oidc_subject.is_(None))).first()
                if user is not None:
                    conn.execute(update(USER).where(USER.c.id == user.id)
                                 .values(oidc_issuer=provider.issuer, oidc_subject=subject))
            if user is None:
                if not provider.create_accounts:
                    refused = SignInRefused(f"{provider.display_name} knows you, but you have no account here yet; "
                                            "ask an administrator to add you")
                    refused.username = email or subject  # type: ignore[attr-defined]
                    raise refused
                username = _free_username(conn, claims)
                key = conn.execute(insert(USER), {
                    "username": username, "display_name": str(claims.get("name") or username)[:200],
                    "email": email[:320], "password_hash": None, "is_admin": False, "active": True,
                    "created_at": self._clock.now(), "oidc_issuer": provider.issuer,
                    "oidc_subject": subject}).inserted_primary_key
                assert key is not None
                user_id, created = int(key[0]), True
            else:
                if not user.active:
                    refused = SignInRefused("your account here is switched off; ask an administrator")
                    refused.username = user.username  # type: ignore[attr-defined]
                    raise refused
                user_id = int(user.id)
            self._sync_roles(conn, provider, user_id, claims)
        return user_id, created

    def _sync_roles(self, conn: Any, provider: OidcProvider, user_id: int, claims: dict[str, Any]) -> None:
        if not provider.roles:
            return
        units = {row.key: row.id for row in conn.execute(select(ORG_UNIT.c.key, ORG_UNIT.c.id))}
        managed: set[tuple[str, int]] = set()
        wanted: set[tuple[str, int]] = set()
        for line in provider.roles:
            unit_id = units.get(line.unit)
            if unit_id is None or line.role not in self._roles:
                continue  # a table line for an org unit or role that does not exist (yet) gives nothing
            managed.add((line.role, unit_id))
            values = claims.get(line.claim or provider.groups_claim)
            held = set(values) if isinstance(values, list) else {values} if isinstance(values, str) else set()
            if line.value in held:
                wanted.add((line.role, unit_id))
        current = {(row.role, row.org_unit_id): row.id for row in conn.execute(
            select(ASSIGNMENT.c.id, ASSIGNMENT.c.role, ASSIGNMENT.c.org_unit_id).where(
                ASSIGNMENT.c.user_id == user_id, ASSIGNMENT.c.credential_id.is_(None)))}
        for pair in managed - wanted:
            if pair in current:
                conn.execute(delete(ASSIGNMENT).where(ASSIGNMENT.c.id == current[pair]))
        for role, unit_id in wanted - set(current):
            conn.execute(insert(ASSIGNMENT), {"user_id": user_id, "role": role, "org_unit_id": unit_id,
                                              "credential_id": None})

    # -- the provider's configuration ----------------------------------------------------------------------

    def _client(self, provider: OidcProvider) -> OAuth2Client:
        return OAuth2Client(client_id=provider.client_id, client_secret=provider.client_secret or None,
                            scope=" ".join(provider.scopes), redirect_uri=self.redirect_uri(provider.key),
                            code_challenge_method="S256", timeout=10.0,
                            token_endpoint_auth_method="client_secret_basic" if provider.client_secret else "none")

    def _provider_metadata(self, provider: OidcProvider) -> dict[str, Any]:
        cached = self._metadata.get(provider.key)
        if cached is not None and time.monotonic() - cached[0] < METADATA_FOR:
            return cached[1]
        try:
            answer = self._http.get(provider.metadata_url)
            answer.raise_for_status()
            metadata = answer.json()
        except (httpx.HTTPError, ValueError):
            raise SignInRefused(f"{provider.display_name} cannot be reached just now; try again in a moment") \
                from None
        if not isinstance(metadata, dict) or metadata.get("issuer") != provider.issuer:
            raise SignInRefused(f"{provider.display_name}'s configuration names another issuer; "
                                "an administrator needs to check the provider settings")
        self._metadata[provider.key] = (time.monotonic(), metadata)
        return metadata

    def _key_set(self, provider: OidcProvider, *, fresh: bool = False) -> KeySet:
        cached = self._keys.get(provider.key)
        if cached is not None and not fresh and time.monotonic() - cached[0] < METADATA_FOR:
            return cached[1]
        try:
            answer = self._http.get(self._provider_metadata(provider)["jwks_uri"])
            answer.raise_for_status()
            keys = KeySet.import_key_set(answer.json())
        except (httpx.HTTPError, ValueError, KeyError, JoseError):
            raise SignInRefused(f"{provider.display_name}'s signing keys cannot be read just now") from None
        self._keys[provider.key] = (time.monotonic(), keys)
        return keys


def _free_username(conn: Any, claims: dict[str, Any]) -> str:
    wanted = str(claims.get("preferred_username") or str(claims.get("email") or "").split("@")[0] or claims["sub"])
    base = re.sub(r"[^A-Za-z0-9._-]", "", wanted)[:90] or "user"
    name, n = base, 1
    while conn.execute(select(USER.c.id).where(USER.c.username == name)).first() is not None:
        n += 1
        name = f"{base}{n}"
    return name


def _plain(text: str) -> str:
    return re.sub(r"[^\w .,:;'()-]", "", text)[:200]
