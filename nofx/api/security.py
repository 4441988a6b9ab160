"""Passwords (argon2id), JWT access tokens (HS256), opaque refresh tokens and API keys.

* Passwords: argon2-cffi's ``PasswordHasher`` (argon2id, its RFC 9106 defaults); a login for an unknown
  user still verifies against a dummy hash, so the response time does not reveal which usernames exist.
* Access tokens: HS256 JWTs, short-lived (``access_ttl_s``), with ``sub``, ``adm``, ``jti``, ``iat``,
  ``exp``, ``typ``. Verification pins the algorithm list to HS256 (so ``alg: none`` and algorithm
  confusion are refused) and requires every claim.
* The signing key: ``NOFX_JWT_SECRET`` if set (at least 32 bytes), else a random 64-byte key generated
  once into ``STATE_DIR/jwt.key`` with permissions 0600 (several worker processes share it).
* Refresh tokens and API keys are 256-bit random strings; only their SHA-256 digests are stored.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from nofx.domain.errors import ConfigError

ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
API_KEY_PREFIX = "nofx_"

# OWASP Password Storage Cheat Sheet, argon2id minimum: m = 19 MiB, t = 2, p = 1. argon2-cffi's default
# (64 MiB, t = 3, p = 4) costs 3-4x more CPU and memory per login, which a login storm turns into a
# denial of service of the whole API; logins are also limited to a few at a time (routes/auth.py).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash("not a password: equalises timing for unknown users")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; always does the work of one verification."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def digest(secret: str) -> str:
    """SHA-256 hex digest of a high-entropy secret (refresh token, API key): what the database keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id(prefix: str) -> str:
    """Random, unguessable object id such as ``tr_3f9c...`` (ids never reveal counts or order)."""
    return f"{prefix}_{uuid.uuid4().hex}"


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def load_signing_key(secret: str | None, state_dir: Path) -> bytes:
    """The HS256 key: ``secret`` (from NOFX_JWT_SECRET) or the generated key file (created 0600)."""
    if secret:
        key = secret.encode()
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigError(f"NOFX_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes", length=len(key))
        return key
    path = Path(state_dir) / "jwt.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several workers starting together exactly one writes the key; the others read it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the writer may still be writing
            key = path.read_bytes()
            if len(key) >= MIN_SECRET_BYTES:
                break
            time.sleep(0.02)
        if path.stat().st_mode & 0o077:
            raise ConfigError("JWT key file is readable by others: chmod 600 it", path=str(path))
        if len(key) < MIN_SECRET_BYTES:
            raise ConfigError("JWT key file is too short", path=str(path))
        return key
    key = secrets.token_hex(32).encode()  # 64 ASCII bytes
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
    return key


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    is_admin: bool
    jti: str
    expires: float  # epoch seconds


class TokenError(Exception):
    """Any reason an access token is not acceptable (the client only ever sees a plain 401)."""


VERIFIED_CACHE = 10_000  # access tokens whose signature was checked (each a few hundred bytes)


class TokenSigner:
    def __init__(self, key: bytes, access_ttl_s: int) -> None:
        self._key = key
        self.access_ttl_s = access_ttl_s
        # token -> its claims, once verified: a client sends the same token with every request until it
        # expires, so the HMAC and JSON decoding are done once per token, not per request. Expiry is still
        # checked on every use; revocation is checked by the caller on every request.
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def issue(self, user_id: str, is_admin: bool, now: float | None = None) -> tuple[str, AccessClaims]:
        now = time.time() if now is None else now
        claims = AccessClaims(user_id, is_admin, uuid.uuid4().hex, now + self.access_ttl_s)
        token = jwt.encode({"sub": user_id, "adm": is_admin, "jti": claims.jti, "iat": int(now),
                            "exp": int(claims.expires), "typ": "access"}, self._key, algorithm=ALGORITHM)
        return token, claims

    def verify_cached(self, token: str) -> AccessClaims:
        """``verify``, remembering tokens already verified (until they expire)."""
        claims = self._verified.get(token)
        if claims is not None:
            if claims.expires > time.time():
                return claims
            self._verified.pop(token, None)
            raise TokenError("expired")
        claims = self.verify(token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE:
            self._verified.popitem(last=False)
        return claims

    def verify(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(token, self._key, algorithms=[ALGORITHM],
                                 options={"require": ["sub", "exp", "iat", "jti", "typ"]})
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        if payload.get("typ") != "access" or not isinstance(payload.get("sub"), str):
            raise TokenError("not an access token")
        return AccessClaims(payload["sub"], bool(payload.get("adm")), str(payload["jti"]), float(payload["exp"]))
