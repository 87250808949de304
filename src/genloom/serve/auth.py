"""API keys → a key id and the principals the knowledge-base ACL checks.

Keys come from ``settings.api_keys`` (env ``GENLOOM_API_KEYS``) and a TOML keys file
(``settings.keys_file``, default ``$GENLOOM_HOME/keys.toml`` when it exists)::

    GENLOOM_API_KEYS="alice=sk-alice-1@tenant:acme,user:alice bob=sk-bob-2@tenant:beta"

    # keys.toml
    [keys.alice]
    key = "sk-alice-1"              # or key_sha256 = "<hex digest>" to keep the secret out of the file
    principals = ["tenant:acme", "user:alice"]
    rpm = 60                        # optional per-key overrides of rate_limit_rpm / rate_limit_tpm
    tpm = 20000
    admin = true                    # optional: may change and delete any document (also GENLOOM_ADMIN_KEYS)
    tools = ["search_kb", "calculator"]   # optional: the agent tools this key may use (default: any)
    guard = { guard_jailbreak_threshold = 70 }   # optional: this key's guard policy (guard_* settings, issue 14)

Only SHA-256 digests are kept in memory and compared in constant time; the key id (the name) is what the
audit log and metrics record, so names are unique across both sources (a duplicate is a start-up error
naming both places), and so are secrets. Every key also holds the principal ``key:<name>`` (reserved: it
cannot be configured): its private uploads and the documents it may write are marked with it.
With no keys at all the server is for this machine only: ``genloom serve`` binds 127.0.0.1 and every request
is the local owner (key id ``local``, no principal filter, may write everything).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from genloom.errors import UserError
from genloom.guard.runner import key_guard_policy
from genloom.settings import Settings

log = logging.getLogger(__name__)

KEY_PRINCIPAL = "key:"  # + key name: the principal every key holds for itself (reserved)


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    principals: tuple[str, ...] | None  # None = the local owner: no ACL filter
    rpm: int | None = None
    tpm: int | None = None
    admin: bool = False  # reads everything; may change and delete any document
    tools: tuple[str, ...] | None = None  # agent tools this key may use; None = not capped
    guard: tuple[tuple[str, object], ...] = ()  # guard_* settings this key overrides (genloom.guard.runner)

    @property
    def own(self) -> str:
        """The principal naming this key alone (``key:<name>``)."""
        return KEY_PRINCIPAL + self.key_id

    @property
    def acl(self) -> list[str] | None:
        """Who this caller retrieves as (searches, answers): its principals plus its own ``key:<name>``;
        None for the local owner (the store then answers with public documents)."""
        if self.principals is None:
            return None
        return [*self.principals, self.own]

    @property
    def scope(self) -> list[str] | None:
        """Which documents and knowledge bases this caller may list and manage: None = all of them (the
        local owner, admin keys), else the ones its ``acl`` can read."""
        return None if self.admin else self.acl

    @property
    def writer(self) -> str:
        """The principal stamped on the documents this caller uploads (they may change them later)."""
        return self.own

    def may_write(self, writers: list[str] | tuple[str, ...]) -> bool:
        """May this caller update or delete a document whose writers are ``writers``? Documents without
        writers (CLI-ingested, public) need an admin key (or the local owner)."""
        return self.principals is None or self.admin or self.own in writers

    def readers(self, unscoped_public: bool) -> list[str] | None:
        """Who may read what this caller uploads: its principals; the local owner's uploads are public
        (None); a key with no principals keeps them to itself unless ``unscoped_public``."""
        if self.principals is None:
            return None
        if self.principals:
            return list(self.principals)
        return None if unscoped_public else [self.own]


LOCAL = Principal("local", None)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


@dataclass
class KeyStore:
    _by_digest: dict[str, Principal] = field(default_factory=dict)
    _where: dict[str, str] = field(default_factory=dict)  # key name -> where it was defined

    @property
    def enabled(self) -> bool:
        return bool(self._by_digest)

    def __len__(self) -> int:
        return len(self._by_digest)

    def add(
        self, name: str, digest: str, principals: list[str], rpm: int | None = None, tpm: int | None = None,
        admin: bool = False, where: str = "code", tools: list[str] | None = None,
        guard: dict[str, object] | None = None,
    ) -> None:  # fmt: skip
        if not _NAME.match(name):
            raise UserError(
                f"API key name {name!r} is not valid", hint="use letters, digits, '-', '_' or '.'"
            )
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise UserError(f"API key {name!r}: key_sha256 must be 64 hex digits", hint="use sha256sum")
        if name in self._where:
            raise UserError(
                f"API key name {name!r} is defined twice: in {self._where[name]} and in {where}",
                hint="key names identify tenants in the audit log, limits and caches: rename or remove one",
            )
        if digest in self._by_digest:
            other = self._by_digest[digest].key_id
            raise UserError(
                f"API keys {other!r} ({self._where[other]}) and {name!r} ({where}) have the same secret",
                hint="give every key its own secret",
            )
        reserved = [p for p in principals if p.startswith(KEY_PRINCIPAL)]
        if reserved:
            raise UserError(
                f"API key {name!r}: principal {reserved[0]!r} is reserved (every key holds key:<its name>)",
                hint="use another prefix, e.g. user: or tenant:",
            )
        self._where[name] = where
        self._by_digest[digest] = Principal(name, tuple(principals), rpm, tpm, admin,
                                            None if tools is None else tuple(tools),
                                            key_guard_policy(guard, f"{where}: [keys.{name}] guard"))  # fmt: skip

    def names(self) -> list[str]:
        return sorted(self._where)

    def admins(self) -> list[str]:
        return sorted(p.key_id for p in self._by_digest.values() if p.admin)

    def make_admins(self, names: list[str], where: str) -> None:
        """Mark the keys called ``names`` as admin keys (``GENLOOM_ADMIN_KEYS``)."""
        unknown = [n for n in names if n not in self._where]
        if unknown:
            raise UserError(
                f"{where} names {', '.join(map(repr, unknown))}, which is not an API key",
                hint=f"known keys: {', '.join(self.names()) or 'none'}",
            )
        for d, p in list(self._by_digest.items()):
            if p.key_id in names:
                self._by_digest[d] = dataclasses.replace(p, admin=True)

    def lookup(self, secret: str | None) -> Principal | None:
        """The principal for a presented key, or None. With no keys configured everyone is LOCAL."""
        if not self.enabled:
            return LOCAL
        if not secret:
            return None
        d = _digest(secret)
        for known, p in self._by_digest.items():  # constant-time compare of each digest
            if hmac.compare_digest(known, d):
                return p
        return None

    @classmethod
    def from_settings(cls, s: Settings) -> KeyStore:
        store = cls()
        for entry in re.split(r"[\s;]+", s.api_keys.strip()):
            if entry:
                store._add_env(entry)
        path = Path(s.keys_file).expanduser() if s.keys_file else s.home / "keys.toml"
        if s.keys_file and not path.is_file():
            raise UserError(
                f"keys file {path} does not exist", hint="fix GENLOOM_KEYS_FILE or create the file"
            )
        if path.is_file():
            store._add_file(path)
        store.make_admins(s.names("admin_keys"), "GENLOOM_ADMIN_KEYS")
        return store

    def _add_env(self, entry: str) -> None:
        name, eq, rest = entry.partition("=")
        secret, _, plist = rest.partition("@")
        if not eq or not secret:
            raise UserError(
                f"GENLOOM_API_KEYS entry {entry.split('=')[0]!r}... is not NAME=KEY[@principal,...]",
                hint="e.g. GENLOOM_API_KEYS='alice=sk-alice-1@tenant:acme'",
            )
        self.add(name, _digest(secret), [p for p in plist.split(",") if p], where="GENLOOM_API_KEYS")

    def _add_file(self, path: Path) -> None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise UserError(f"{path} is not valid TOML: {e}", hint="fix the keys file") from None
        keys = data.get("keys", {})
        plain = isinstance(keys, dict) and any(isinstance(v, dict) and "key" in v for v in keys.values())
        if plain and path.stat().st_mode & 0o077:
            log.warning("%s holds API keys and is readable by other users: chmod 600 it (or store key_sha256 "
                        "digests instead of keys)", path)  # fmt: skip
        if not isinstance(keys, dict):
            raise UserError(
                f"{path}: [keys] must be a table of [keys.NAME] tables", hint="see genloom.serve.auth"
            )
        for name, spec in keys.items():
            if not isinstance(spec, dict) or not ("key" in spec or "key_sha256" in spec):
                raise UserError(
                    f"{path}: [keys.{name}] needs key or key_sha256", hint="see genloom.serve.auth"
                )
            digest = str(spec.get("key_sha256") or _digest(str(spec["key"]))).lower()
            principals = spec.get("principals", [])
            if not isinstance(principals, list) or not all(isinstance(p, str) for p in principals):
                raise UserError(
                    f"{path}: [keys.{name}] principals must be a list of strings", hint="e.g. ['tenant:a']"
                )
            rpm, tpm, admin = spec.get("rpm"), spec.get("tpm"), spec.get("admin", False)
            if not isinstance(admin, bool):
                raise UserError(f"{path}: [keys.{name}] admin must be true or false", hint="admin = true")
            tools = spec.get("tools")
            if tools is not None and (
                not isinstance(tools, list) or not all(isinstance(t, str) for t in tools)
            ):
                raise UserError(
                    f"{path}: [keys.{name}] tools must be a list of tool names", hint="e.g. ['search_kb']"
                )
            self.add(
                name,
                digest,
                principals,
                int(rpm) if rpm is not None else None,
                int(tpm) if tpm is not None else None,
                admin,
                where=str(path),
                tools=tools,
                guard=spec.get("guard"),
            )


def bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
