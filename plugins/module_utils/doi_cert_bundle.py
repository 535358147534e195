"""Validate organisation CA certificates (the DOI root) and build the CA bundle conda and pip trust.

Pure functions on the controller, no Ansible imports: bytes and settings in, plain data out. The
fleet plan step (``fleet_flow.build_bundle``) reads the files and calls ``prepare_bundle``.

The bundle is the public roots (by default the controller's pinned ``certifi`` bundle) plus the
organisation's root(s), so conda and pip keep working off the agency network as well as behind its
TLS-inspecting proxy. It is deterministic: the same inputs give the same bytes on every host and every
run, which keeps ``win_copy`` idempotent and makes rotation a content change.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import os
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from ansible_collections.arcgis_conda.fleet.plugins.module_utils.optional_lib import missing

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtensionOID
except ImportError as _exc:  # optional: the feature that needs it fails, naming it
    CRYPTOGRAPHY_IMPORT_ERROR: ImportError | None = _exc
    _why = "to validate the DOI root CA (doi_cert) on the controller"
    x509 = missing("x509", "cryptography", _why, _exc)
    InvalidSignature = missing("InvalidSignature", "cryptography", _why, _exc)
    Encoding = missing("Encoding", "cryptography", _why, _exc)
    ExtensionOID = missing("ExtensionOID", "cryptography", _why, _exc)
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

PEM_RE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s*(?P<body>[A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----"
)
HEX64_RE = re.compile(r"^[0-9a-f]{64}$")
_Root = TypeVar("_Root", "OrgRoot", "PublicRoot")
FIX_FORMAT = (
    "export the CA certificate as Base-64 encoded X.509 (.cer/.crt, PEM) or DER encoded binary X.509 "
    "and point doi_cert_certificates at it"
)


class CertificateError(ValueError):
    """An input certificate cannot be trusted as an organisation root; the message names value and fix."""


@dataclass(frozen=True)
class CertificateSource:
    """One entry of ``doi_cert_certificates`` after the action plugin read it."""

    label: str  # e.g. "file files/DOIRootCA.crt" or "inline certificate #2"
    data: bytes


@dataclass(frozen=True)
class OrgRoot:
    """A validated organisation CA certificate."""

    subject: str
    issuer: str
    sha256: str  # lower-case hex, no separators
    sha1: str  # upper-case hex: the Windows certificate store thumbprint
    not_before: str  # ISO 8601, UTC
    not_after: str
    days_left: int
    self_signed: bool
    source: str
    pem: str


@dataclass(frozen=True)
class PublicRoot:
    """One certificate of the public roots bundle (not validated as an organisation root)."""

    subject: str
    sha256: str
    pem: str


@dataclass
class BundleResult:
    """What the role ships to the host."""

    bundle_pem: str
    roots_pem: str
    certificates: list[OrgRoot]
    public_roots_source: str
    public_roots_count: int
    bundle_sha1: str  # of bundle_pem as UTF-8: what win_stat reports for the file on the host
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def normalise_fingerprint(value: str) -> str:
    """Return a SHA-256 fingerprint as 64 lower-case hex digits; accept ``AB:CD:..``, spaces, any case."""
    cleaned = re.sub(r"[\s:]", "", str(value)).lower()
    if cleaned.startswith("sha256"):
        cleaned = cleaned.removeprefix("sha256").lstrip("=")
    if not HEX64_RE.match(cleaned):
        raise CertificateError(
            f"doi_cert_fingerprints entry {value!r} is not a SHA-256 fingerprint (64 hex digits, colons "
            "optional). Fix: copy it from `openssl x509 -noout -fingerprint -sha256 -in DOIRootCA.crt` or "
            "from the certificate's Details tab (Thumbprint is SHA-1 there; use SHA-256)."
        )
    return cleaned


def colon_hex(hex_digits: str) -> str:
    """``abcd..`` -> ``AB:CD:..`` as shown by openssl and Windows."""
    upper = hex_digits.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def der_to_pem(der: bytes) -> str:
    """PEM text of a DER certificate, 64-character lines, LF line ends."""
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def _pem_blocks(data: bytes) -> list[bytes]:
    """DER bytes of every PEM certificate block in ``data``."""
    ders = []
    for match in PEM_RE.finditer(data):
        body = re.sub(rb"\s+", b"", match.group("body"))
        ders.append(base64.b64decode(body, validate=True))
    return ders


def load_certificates(source: CertificateSource) -> list[x509.Certificate]:
    """Parse PEM (one or more certificates), DER, or base64 DER text; raise CertificateError with the fix."""
    data = source.data
    if not data.strip():
        raise CertificateError(f"{source.label} is empty. Fix: {FIX_FORMAT}.")
    try:
        if b"-----BEGIN" in data:
            if b"-----BEGIN CERTIFICATE-----" not in data:
                kind = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----", data)
                what = kind.group(1).decode("ascii", "replace") if kind else "unknown"
                raise CertificateError(
                    f"{source.label} holds a PEM '{what}' block, not a CERTIFICATE. Fix: {FIX_FORMAT} "
                    "(never a private key or a certificate request)."
                )
            ders = _pem_blocks(data)
        else:
            der = data
            if data[:1] != b"\x30":  # not DER: maybe base64 DER pasted without PEM armour
                der = base64.b64decode(re.sub(rb"\s+", b"", data), validate=True)
            ders = [der]
        return [x509.load_der_x509_certificate(der) for der in ders]
    except CertificateError:
        raise
    except (ValueError, binascii.Error) as exc:
        raise CertificateError(
            f"{source.label} could not be read as a PEM or DER X.509 certificate ({exc}). Fix: {FIX_FORMAT}."
        ) from exc


def _basic_constraints_ca(cert: x509.Certificate) -> bool:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS)
    except x509.ExtensionNotFound:
        return False
    return bool(ext.value.ca)


def _key_usage_allows_cert_sign(cert: x509.Certificate) -> bool:
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.KEY_USAGE)
    except x509.ExtensionNotFound:
        return True  # absent keyUsage does not restrict (RFC 5280 4.2.1.3)
    return bool(ext.value.key_cert_sign)


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def validate_org_root(
    cert: x509.Certificate, label: str, now: dt.datetime, warn_days: int
) -> tuple[OrgRoot, list[str]]:
    """Check that ``cert`` can serve as a trust anchor; return its record and any warnings."""
    subject = cert.subject.rfc4514_string() or "(empty subject)"
    issuer = cert.issuer.rfc4514_string() or "(empty issuer)"
    if not _basic_constraints_ca(cert):
        raise CertificateError(
            f"{label} ({subject}) is not a CA certificate: basicConstraints CA:TRUE is missing, so it looks "
            f"like a server (leaf) certificate issued by {issuer}. Fix: give the organisation's root CA "
            "certificate (for DOI, DOIRootCA.crt), not a server's certificate."
        )
    if not _key_usage_allows_cert_sign(cert):
        raise CertificateError(
            f"{label} ({subject}) has a keyUsage without keyCertSign, so it cannot sign certificates. "
            "Fix: give the organisation's root CA certificate."
        )
    not_before = cert.not_valid_before_utc
    not_after = cert.not_valid_after_utc
    if now > not_after:
        raise CertificateError(
            f"{label} ({subject}) expired on {not_after:%Y-%m-%d}. Fix: download the current root CA "
            "certificate from your PKI team and update doi_cert_certificates (keep the old one only until "
            "every server has moved)."
        )
    if now < not_before:
        raise CertificateError(
            f"{label} ({subject}) is not valid before {not_before:%Y-%m-%d}. Fix: check the controller's "
            "clock, or wait until the certificate is valid."
        )
    der = cert.public_bytes(Encoding.DER)
    days_left = (not_after - now).days
    warnings_out = []
    if days_left <= warn_days:
        warnings_out.append(
            f"{label} ({subject}) expires in {days_left} day(s), on {not_after:%Y-%m-%d}: add its successor "
            "to doi_cert_certificates now; the bundle keeps both until you remove the old one."
        )
    self_signed = _self_signed(cert)
    if not self_signed:
        warnings_out.append(
            f"{label} ({subject}) is an intermediate CA (issued by {issuer}). OpenSSL as used by conda and "
            "pip only accepts a chain that ends in a self-signed root: add that root to "
            "doi_cert_certificates."
        )
    record = OrgRoot(
        subject=subject,
        issuer=issuer,
        sha256=hashlib.sha256(der).hexdigest(),
        sha1=hashlib.sha1(der, usedforsecurity=False).hexdigest().upper(),
        not_before=not_before.isoformat(),
        not_after=not_after.isoformat(),
        days_left=days_left,
        self_signed=self_signed,
        source=label,
        pem=der_to_pem(der),
    )
    return record, warnings_out


def load_public_roots(data: bytes) -> list[PublicRoot]:
    """Every certificate of a PEM bundle such as certifi's cacert.pem, deduplicated by SHA-256.

    Public roots are passed through, not judged: their selection is the bundle maintainer's job. They are
    parsed only for the subject shown in the bundle's comments.
    """
    roots: dict[str, PublicRoot] = {}
    for der in _pem_blocks(data):
        digest = hashlib.sha256(der).hexdigest()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # certifi holds a root with a non-positive serial
                subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
        except ValueError:
            subject = "(subject not parsed)"
        roots.setdefault(digest, PublicRoot(subject=subject, sha256=digest, pem=der_to_pem(der)))
    return list(roots.values())


def _sorted_by_subject(items: Iterable[_Root]) -> list[_Root]:
    return sorted(items, key=lambda item: (item.subject.casefold(), item.sha256))


def _cert_block(subject: str, sha256: str, pem: str) -> str:
    return f"# Subject: {subject}\n# SHA-256: {colon_hex(sha256)}\n{pem}"


def render_roots_pem(org_roots: Sequence[OrgRoot]) -> str:
    """The organisation roots alone (the seed's DOIRootCA.crt, for tools that want only those)."""
    header = "# Organisation root CA certificates, written by arcgis-conda fleet (role doi_cert).\n"
    return header + "".join(
        "\n" + _cert_block(r.subject, r.sha256, r.pem) for r in _sorted_by_subject(org_roots)
    )


def render_bundle(
    org_roots: Sequence[OrgRoot], public_roots: Sequence[PublicRoot], public_source: str
) -> tuple[str, int]:
    """The combined bundle text and how many public roots it holds (duplicates of org roots dropped)."""
    org_sorted = _sorted_by_subject(org_roots)
    org_digests = {r.sha256 for r in org_sorted}
    public_sorted = [r for r in _sorted_by_subject(public_roots) if r.sha256 not in org_digests]
    lines = [
        "# CA bundle for conda and pip, written by arcgis-conda fleet (role doi_cert).",
        "# Do not edit: every run rebuilds it from the controller's inputs.",
        f"# Organisation roots ({len(org_sorted)}):",
        *(f"#   {r.subject}  SHA-256 {colon_hex(r.sha256)}" for r in org_sorted),
        f"# Public roots ({len(public_sorted)}): {public_source}",
        "",
    ]
    text = "\n".join(lines)
    text += "".join("\n" + _cert_block(r.subject, r.sha256, r.pem) for r in org_sorted)
    text += "".join("\n" + _cert_block(r.subject, r.sha256, r.pem) for r in public_sorted)
    return text, len(public_sorted)


def prepare_bundle(
    sources: Sequence[CertificateSource],
    *,
    now: dt.datetime,
    fingerprints: Sequence[str] = (),
    warn_days: int = 30,
    public_roots_pem: bytes | None = None,
    public_roots_source: str = "none",
) -> BundleResult:
    """Validate every source, enforce fingerprint pins, and build the bundle and the roots-only file."""
    if not sources:
        raise CertificateError(
            "doi_cert_certificates is empty. Fix: list the organisation root CA, e.g. "
            "doi_cert_certificates: [{path: files/DOIRootCA.crt}]."
        )
    if warn_days < 0:
        raise CertificateError(f"doi_cert_expiry_warn_days is {warn_days}. Fix: use 0 or more days.")
    pins = {normalise_fingerprint(f) for f in fingerprints}
    found: dict[str, OrgRoot] = {}
    warnings_out: list[str] = []
    for source in sources:
        for cert in load_certificates(source):
            record, cert_warnings = validate_org_root(cert, source.label, now, warn_days)
            if pins and record.sha256 not in pins:
                raise CertificateError(
                    f"{source.label} ({record.subject}) has SHA-256 fingerprint {colon_hex(record.sha256)}, "
                    "which is not in doi_cert_fingerprints. Fix: check the file came from your PKI team, "
                    "then add its fingerprint to doi_cert_fingerprints."
                )
            if record.sha256 in found:
                warnings_out.append(
                    f"{source.label} repeats {record.subject} (already given by "
                    f"{found[record.sha256].source}); it is included once."
                )
                continue
            found[record.sha256] = record
            warnings_out.extend(cert_warnings)
    unused = sorted(pins - set(found))
    if unused:
        warnings_out.append(
            "doi_cert_fingerprints has pins that match no certificate: "
            + ", ".join(colon_hex(p) for p in unused)
            + ". Remove them once the rotation they were kept for is over."
        )
    org_roots = list(found.values())
    public = load_public_roots(public_roots_pem) if public_roots_pem else []
    if public_roots_pem is not None and not public:
        raise CertificateError(
            f"The public roots ({public_roots_source}) hold no PEM certificate. Fix: point "
            "doi_cert_public_roots_file at a PEM bundle, or set doi_cert_public_roots: certifi."
        )
    bundle_pem, public_count = render_bundle(org_roots, public, public_roots_source)
    return BundleResult(
        bundle_pem=bundle_pem,
        roots_pem=render_roots_pem(org_roots),
        certificates=_sorted_by_subject(org_roots),
        public_roots_source=public_roots_source,
        public_roots_count=public_count,
        bundle_sha1=hashlib.sha1(bundle_pem.encode("utf-8"), usedforsecurity=False).hexdigest(),
        warnings=warnings_out,
    )


def public_roots(choice: str, path: str, read: Callable[[str, str], bytes]) -> tuple[bytes | None, str]:
    """The public roots to bundle and a label saying where they come from (``doi_cert_public_roots``)."""
    if choice == "none":
        return None, "none (doi_cert_public_roots: none): only the organisation roots are trusted"
    if choice == "file":
        if not path:
            raise CertificateError(
                "doi_cert_public_roots is file but doi_cert_public_roots_file is empty. "
                "Fix: set doi_cert_public_roots_file to a PEM bundle on the controller."
            )
        return read(path, "public roots file"), f"file {os.path.basename(path)}"
    try:
        import certifi
    except ImportError as exc:
        raise CertificateError(
            "doi_cert_public_roots is certifi but the controller's Python has no certifi "
            "package. Fix: run `make setup` (certifi is pinned in requirements.txt)."
        ) from exc
    with open(certifi.where(), "rb") as handle:
        data = handle.read()
    return data, f"certifi {certifi.__version__} from the controller (Mozilla's CA list)"


def bundle_from_args(
    args: Mapping[str, Any], read: Callable[[str, str], bytes], now: dt.datetime
) -> BundleResult:
    """The bundle for the ``doi_cert_bundle`` action's validated arguments.

    ``read(path, what)`` returns a controller file's bytes: the action looks in files/ folders the way
    Ansible does, the offline fleet plan reads paths as given.
    """
    sources = [
        CertificateSource(label=f"certificate file {item['path']}", data=read(str(item["path"]), "file"))
        if item.get("path")
        else CertificateSource(
            label=f"inline certificate #{index}", data=str(item["content"]).encode("utf-8")
        )
        for index, item in enumerate(args["certificates"], 1)
    ]
    public_pem, public_label = public_roots(args["public_roots"], args["public_roots_file"], read)
    return prepare_bundle(
        sources,
        now=now,
        fingerprints=args["fingerprints"],
        warn_days=args["expiry_warn_days"],
        public_roots_pem=public_pem,
        public_roots_source=public_label,
    )
