"""Verification stamps: what ``rlbench-icl verify`` found, kept beside a submission's results.

``<results>/<submission>/verified.json`` holds, per checked file, the canonical-content hash
of the record that was reproduced exactly (or the difference found), so the leaderboard can
tell a verification that still holds from one whose files changed since
(``verification_status``). This module only reads and writes stamps; re-running stored runs
is ``rlbench_icl.verify``'s.

A stamp anyone could write proves nothing, so a stamp is signed (``verify --sign KEYFILE``):
an Ed25519 signature over its canonical JSON (the checked files' hashes, the harness version
and the submission's code hash). The leaderboard counts a stamp only if its signature checks
against a public key in the ``keys/`` directory beside the results directory (for the
committed results, ``leaderboard/keys/``); else it shows "unsigned", "untrusted key" or
"forged". Ed25519
comes from ``cryptography``, the maintained standard library for it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from . import store
from ._version import __version__
from .errors import StampError

STAMP = "verified.json"
STAMP_SCHEMA = "rlbench-icl/verification/1"


@dataclass(frozen=True)
class Verdict:
    """One checked file: ``path`` relative to the results directory; ``problem`` is None
    when the re-run reproduced it exactly, and ``digest`` is then the hash of the record
    that was compared."""

    path: str
    problem: str | None
    digest: str | None = None


def write_stamp(results_dir: Path, submission: str, verdicts: Sequence[Verdict],
                seed: int, code_sha256: str | None = None, key_file: Path | None = None
                ) -> Path:
    """Record the verification beside the submission's results, merged into the stamp
    already there: this run's verdicts replace the earlier ones of the files it checked, and
    every other earlier verdict is kept as it was (a file edited since stays "stale", a
    difference stays until a re-check reproduces the file), so a second, smaller sample
    adds to what was verified instead of forgetting it. An unreadable stamp is replaced.

    With ``key_file`` (a private key from ``new_key``) the stamp is signed; without it the
    stamp is unsigned (an earlier signature cannot cover the new content)."""
    path = Path(results_dir) / submission / STAMP
    reproduced, differ = _earlier_verdicts(path, submission)
    for v in verdicts:
        reproduced.pop(v.path, None)
        differ.pop(v.path, None)
        if v.problem is None:
            reproduced[v.path] = v.digest
        else:
            differ[v.path] = v.problem
    stamp = {"schema": STAMP_SCHEMA, "harness_version": __version__, "submission": submission,
             "sample_seed": seed, "code_sha256": code_sha256, "reproduced": reproduced,
             "differ": differ}
    if key_file is not None:
        stamp["signature"] = sign(stamp, load_private_key(key_file))
    store.write_atomic(path, json.dumps(stamp, sort_keys=True, indent=1) + "\n")
    return path


def signed_payload(stamp: dict) -> bytes:
    """The bytes a signature covers: the stamp's canonical JSON without its signature."""
    body = {k: v for k, v in stamp.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(stamp: dict, key: Ed25519PrivateKey) -> dict:
    return {"key": key_id(key.public_key()),
            "ed25519": base64.b64encode(key.sign(signed_payload(stamp))).decode()}


def key_id(public: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def new_key(path: Path) -> Path:
    """Write a new private key to ``path`` (PEM, readable by its owner only) and its public
    key to ``path.pub``; returns the latter, to commit under ``keys/``."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    path = Path(path)
    if path.exists():
        raise StampError(f"{path} exists: a key is never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
    public = path.with_name(path.name + ".pub")
    store.write_atomic(public, key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return public


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise StampError(f"{path}: not a private key written by `rlbench-icl keys new`: "
                         f"{exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StampError(f"{path}: not an Ed25519 private key")
    return key


def trusted_keys(results_dir: Path) -> dict[str, Ed25519PublicKey]:
    """The public keys in ``keys/`` beside the results directory, by key id; files that are
    not Ed25519 public keys are ignored."""
    keys = {}
    directory = Path(results_dir).resolve().parent / "keys"
    for path in sorted(directory.glob("*.pub")) if directory.is_dir() else []:
        try:
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError):
            continue
        if isinstance(key, Ed25519PublicKey):
            keys[key_id(key)] = key
    return keys


def signature_status(stamp: dict, keys: dict[str, Ed25519PublicKey]) -> str:
    """``signed`` (by a trusted key, over this content), ``unsigned``, ``untrusted key``
    (signed by a key not among ``keys``: it cannot be checked, so it counts for nothing,
    but it is not shown as a forgery: the key's ``.pub`` may just be missing) or
    ``forged`` (malformed, or not a signature of this content by the trusted key named)."""
    signature = stamp.get("signature")
    if signature is None:
        return "unsigned"
    try:
        key = keys.get(signature["key"])
        if key is None:
            return "untrusted key"
        key.verify(base64.b64decode(signature["ed25519"], validate=True),
                   signed_payload(stamp))
    except (KeyError, TypeError, ValueError, InvalidSignature):
        return "forged"
    return "signed"


def _earlier_verdicts(path: Path, submission: str) -> tuple[dict, dict]:
    if not path.exists():
        return {}, {}
    try:
        return _read_stamp(path, submission)
    except (OSError, ValueError):  # StampError included: nothing of it can be trusted
        return {}, {}


def verification_status(results_dir: Path, submission: str, protocol: str | None = None,
                        tasks: Collection[str] | None = None) -> str:
    """What the leaderboard shows for a submission (on one protocol and some tasks, if
    given): ``8/8`` (all reproduced, files unchanged since, signed by a trusted key),
    ``unsigned (8/8)``, ``untrusted key (8/8)`` (signed by a key not in ``keys/``: not
    counted), ``forged`` (a signature that does not check against the trusted key it names),
    ``failed (k of n differ)``, ``stale`` (a checked file changed or vanished since), ``no``
    (never verified), or ``unreadable stamp``."""
    path = Path(results_dir) / submission / STAMP
    if not path.exists():
        return "no"
    try:
        reproduced, differ = _read_stamp(path, submission)
        signature = signature_status(json.loads(path.read_text()), trusted_keys(results_dir))
    except StampError as exc:
        return f"unreadable stamp ({exc})"
    except (OSError, ValueError):  # not JSON
        return "unreadable stamp"
    if signature == "forged":
        return "forged"
    def kept(rel: str) -> bool:
        parts = rel.split("/")
        return (protocol is None or parts[1] == protocol) and (tasks is None or
                                                               parts[2] in tasks)

    reproduced = {p: d for p, d in reproduced.items() if kept(p)}
    differ = {p: d for p, d in differ.items() if kept(p)}
    total = len(reproduced) + len(differ)
    if differ:
        return f"failed ({len(differ)} of {total} differ)"
    for rel, digest in reproduced.items():
        try:
            if content_hash(Path(results_dir) / _packed_or_plain(results_dir, rel)) != digest:
                return "stale"
        except (store.ResultFileError, FileNotFoundError):
            return "stale"
    if not total:
        return "no"
    return f"{total}/{total}" if signature == "signed" else f"{signature} ({total}/{total})"


def _read_stamp(path: Path, submission: str) -> tuple[dict, dict]:
    stamp = json.loads(path.read_text())
    if not isinstance(stamp, dict) or stamp.get("schema") != STAMP_SCHEMA:
        raise StampError("not a verification stamp")
    if stamp.get("submission") != submission:
        raise StampError(f"it is {stamp.get('submission')!r}'s")
    reproduced, differ = stamp.get("reproduced"), stamp.get("differ")
    if not isinstance(reproduced, dict) or not isinstance(differ, dict):
        raise StampError("malformed")
    for rel in [*reproduced, *differ]:
        parts = rel.split("/")
        if len(parts) != 4 or parts[0] != submission or ".." in parts:
            raise StampError(f"it names {rel!r}, not one of this submission's files")
    return reproduced, differ


def content_hash(path: Path) -> str:
    """SHA-256 of a result file's canonical text (the same for ``.json`` and packed
    ``.json.gz``)."""
    return record_hash(store.read_result(path))


def record_hash(record: dict) -> str:
    return hashlib.sha256(store.dumps(record).encode("utf-8")).hexdigest()


def _packed_or_plain(results_dir: Path, rel: str) -> str:
    """A stamp written before ``pack`` names ``.json`` files; after it they are ``.json.gz``."""
    if not (Path(results_dir) / rel).exists() and rel.endswith(".json"):
        return rel + ".gz"
    return rel
