"""doi_cert_bundle: organisation root validation and the deterministic bundle, on generated certificates."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import certifi
import pytest
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_bundle import (
    CertificateError,
    CertificateSource,
    colon_hex,
    load_public_roots,
    normalise_fingerprint,
    prepare_bundle,
)
from cryptography import x509
from doi_cert_testca import NOW, make_ca, make_cert, make_server


@pytest.fixture(scope="module")
def root():
    return make_ca("Test DOI Root CA")


@pytest.fixture(scope="module")
def root2():
    return make_ca("Test DOI Root CA G2")


def src(data: bytes, label: str = "certificate file DOIRootCA.crt") -> CertificateSource:
    return CertificateSource(label=label, data=data)


def subjects(pem: str) -> list[str]:
    return [c.subject.rfc4514_string() for c in x509.load_pem_x509_certificates(pem.encode())]


def test_pem_ca_is_accepted_and_described(root):
    result = prepare_bundle([src(root.pem)], now=NOW)
    (record,) = result.certificates
    assert record.sha256 == root.sha256
    assert record.sha1 == root.sha1
    assert record.self_signed is True
    assert record.days_left >= 3649
    assert subjects(result.bundle_pem) == [root.cert.subject.rfc4514_string()]
    assert subjects(result.roots_pem) == [root.cert.subject.rfc4514_string()]
    assert colon_hex(root.sha256) in result.bundle_pem.splitlines()[3]
    assert result.bundle_sha1 == hashlib.sha1(result.bundle_pem.encode()).hexdigest()
    assert result.warnings == []


def test_der_and_base64_der_give_the_same_bundle_as_pem(root):
    from_pem = prepare_bundle([src(root.pem)], now=NOW)
    from_der = prepare_bundle([src(root.der)], now=NOW)
    from_b64 = prepare_bundle([src(base64.encodebytes(root.der))], now=NOW)
    assert from_der.bundle_pem == from_pem.bundle_pem == from_b64.bundle_pem
    assert "-----BEGIN CERTIFICATE-----" in from_der.roots_pem


def test_leaf_certificate_is_rejected_with_the_fix(root):
    leaf = make_server(root)
    with pytest.raises(CertificateError) as err:
        prepare_bundle([src(leaf.pem, "certificate file server.crt")], now=NOW)
    text = str(err.value)
    assert "certificate file server.crt" in text
    assert "not a CA certificate" in text and "basicConstraints CA:TRUE" in text
    assert "Fix: give the organisation's root CA certificate" in text


def test_certificate_without_basic_constraints_is_rejected():
    v1_like = make_cert("Old CA", basic_constraints=False)
    with pytest.raises(CertificateError, match="basicConstraints CA:TRUE is missing"):
        prepare_bundle([src(v1_like.pem)], now=NOW)


def test_expired_ca_is_rejected_with_its_date():
    expired = make_ca(
        "Expired DOI Root", not_before=NOW - dt.timedelta(days=800), not_after=NOW - dt.timedelta(days=2)
    )
    with pytest.raises(CertificateError) as err:
        prepare_bundle([src(expired.pem)], now=NOW)
    assert f"expired on {(NOW - dt.timedelta(days=2)):%Y-%m-%d}" in str(err.value)
    assert "Fix: download the current root CA" in str(err.value)


def test_not_yet_valid_ca_is_rejected():
    future = make_ca("Future Root", not_before=NOW + dt.timedelta(days=5))
    with pytest.raises(CertificateError, match="is not valid before"):
        prepare_bundle([src(future.pem)], now=NOW)


def test_ca_whose_key_usage_cannot_sign_certificates_is_rejected():
    odd = make_ca("No Sign Root", key_cert_sign=False)
    with pytest.raises(CertificateError, match="without keyCertSign"):
        prepare_bundle([src(odd.pem)], now=NOW)


def test_private_key_and_garbage_are_rejected(root):
    with pytest.raises(CertificateError, match="holds a PEM 'PRIVATE KEY' block"):
        prepare_bundle([src(root.key_pem)], now=NOW)
    with pytest.raises(CertificateError, match="could not be read as a PEM or DER"):
        prepare_bundle([src(b"this is not a certificate")], now=NOW)
    with pytest.raises(CertificateError, match="is empty"):
        prepare_bundle([src(b"  \n")], now=NOW)
    with pytest.raises(CertificateError, match="doi_cert_certificates is empty"):
        prepare_bundle([], now=NOW)


def test_fingerprint_pinning(root, root2):
    pin = colon_hex(root.sha256)  # the AB:CD:.. form openssl prints
    assert prepare_bundle([src(root.pem)], now=NOW, fingerprints=[pin]).certificates[0].sha256 == root.sha256
    with pytest.raises(CertificateError) as err:
        prepare_bundle([src(root2.pem)], now=NOW, fingerprints=[pin])
    assert colon_hex(root2.sha256) in str(err.value) and "not in doi_cert_fingerprints" in str(err.value)
    with pytest.raises(CertificateError, match="is not a SHA-256 fingerprint"):
        prepare_bundle([src(root.pem)], now=NOW, fingerprints=[root.sha1])  # SHA-1 given by mistake
    both = prepare_bundle([src(root.pem)], now=NOW, fingerprints=[pin, root2.sha256.upper()])
    assert any("match no certificate" in w and colon_hex(root2.sha256) in w for w in both.warnings)
    assert normalise_fingerprint("SHA256=" + root.sha256.upper()) == root.sha256


def test_expiry_warning_and_intermediate_warning(root):
    soon = make_ca("Ending Root", not_after=NOW + dt.timedelta(days=10))
    result = prepare_bundle([src(soon.pem)], now=NOW, warn_days=30)
    assert any("expires in 9 day(s)" in w or "expires in 10 day(s)" in w for w in result.warnings)
    assert prepare_bundle([src(soon.pem)], now=NOW, warn_days=5).warnings == []
    intermediate = make_cert("DOI Issuing CA", issuer=root)
    result = prepare_bundle([src(intermediate.pem)], now=NOW)
    assert any("is an intermediate CA" in w for w in result.warnings)
    assert result.certificates[0].self_signed is False


def test_rotation_old_and_new_roots_in_one_file_then_old_removed(root, root2):
    both = prepare_bundle([src(root.pem + root2.pem)], now=NOW)
    assert {c.sha256 for c in both.certificates} == {root.sha256, root2.sha256}
    only_new = prepare_bundle([src(root2.pem)], now=NOW)
    assert subjects(only_new.bundle_pem) == [root2.cert.subject.rfc4514_string()]
    assert only_new.bundle_pem != both.bundle_pem


def test_bundle_is_deterministic_and_deduplicated(root, root2):
    a = prepare_bundle([src(root.pem), src(root2.der)], now=NOW)
    b = prepare_bundle([src(root2.pem), src(root.pem), src(root.der, "inline certificate #3")], now=NOW)
    assert a.bundle_pem == b.bundle_pem
    assert any("repeats" in w for w in b.warnings)


@pytest.mark.filterwarnings("ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning")
def test_public_roots_from_certifi_join_and_duplicates_collapse(root):
    certifi_pem = open(certifi.where(), "rb").read()  # noqa: SIM115
    public = load_public_roots(certifi_pem)
    assert len(public) == len(x509.load_pem_x509_certificates(certifi_pem))
    result = prepare_bundle(
        [src(root.pem)], now=NOW, public_roots_pem=certifi_pem, public_roots_source="certifi test"
    )
    assert result.public_roots_count == len(public)
    names = subjects(result.bundle_pem)
    assert names[0] == root.cert.subject.rfc4514_string()  # organisation roots come first
    assert len(names) == len(public) + 1
    assert f"# Public roots ({len(public)}): certifi test" in result.bundle_pem
    # An organisation root that is also a public root appears once, in the organisation section.
    first_public = x509.load_pem_x509_certificates(certifi_pem)[0]
    from cryptography.hazmat.primitives.serialization import Encoding

    again = prepare_bundle(
        [src(first_public.public_bytes(Encoding.PEM))],
        now=NOW,
        public_roots_pem=certifi_pem,
        public_roots_source="certifi test",
    )
    assert again.public_roots_count == len(public) - 1
    assert len(subjects(again.bundle_pem)) == len(public)


def test_public_roots_file_without_certificates_is_an_error(root):
    with pytest.raises(CertificateError, match="hold no PEM certificate"):
        prepare_bundle(
            [src(root.pem)], now=NOW, public_roots_pem=b"nothing here", public_roots_source="file x"
        )
