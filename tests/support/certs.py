"""A private CA and a server certificate for 127.0.0.1, made in the test (never shipped).

By default both carry what strict (RFC 5280) verification requires, which Python 3.13 applies
in `ssl.create_default_context`: key identifiers, critical Basic Constraints and Key Usage.
`strict=False` makes the legacy kind that older tools produced and Python 3.11 still accepts,
for the tests of the message that explains why 3.13 refuses it.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: What a CA may do: sign certificates and CRLs (keyUsage=critical,keyCertSign,cRLSign).
CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
#: What an EC server key may do in TLS: sign the handshake (keyEncipherment is for RSA keys).
SERVER_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)


@dataclass(frozen=True)
class CertFiles:
    """PEM files of one CA (with its key, to sign again) and one server certificate it signed."""

    ca: Path
    cert: Path
    key: Path
    ca_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    """Start a certificate valid from five minutes ago (clock skew) for one day."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _make_ca(common_name: str, key: ec.EllipticCurvePrivateKey, strict: bool) -> x509.Certificate:
    """Self-sign a CA; without `strict` it lacks both key identifiers, as legacy CAs do."""
    public = key.public_key()
    builder = (
        _builder(_name(common_name), _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(CA_KEY_USAGE, critical=True)
    )
    if strict:
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(public), critical=False
        ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
    certificate: x509.Certificate = builder.sign(key, hashes.SHA256())
    return certificate


def _make_server(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    strict: bool,
) -> x509.Certificate:
    """Sign the server's certificate; without `strict` it lacks the key identifiers."""
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    builder = (
        _builder(_name("127.0.0.1"), ca.subject, key)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if strict:
        builder = (
            builder.add_extension(SERVER_KEY_USAGE, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
        )
    certificate: x509.Certificate = builder.sign(ca_key, hashes.SHA256())
    return certificate


def make_certs(
    directory: Path, common_name: str = "econnect test CA", *, strict: bool = True
) -> CertFiles:
    """Write ca.pem, ca.key, server.pem and server.key valid for 127.0.0.1 and localhost.

    Args:
        directory: Where to write the three files (created if needed).
        common_name: The CA's name, so two CAs in one test can be told apart.
        strict: True for certificates that Python 3.13's strict verification accepts; False
            for a legacy CA without Subject and Authority Key Identifiers (and a server
            certificate without them), which 3.13 refuses and 3.11 accepts.

    Returns:
        The paths of the CA certificate, the server certificate and both keys.
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _make_ca(common_name, ca_key, strict)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _make_server(ca, ca_key, key, strict)
    directory.mkdir(parents=True, exist_ok=True)
    files = CertFiles(
        ca=directory / "ca.pem",
        cert=directory / "server.pem",
        key=directory / "server.key",
        ca_key=directory / "ca.key",
    )
    files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(files.key, key)
    _write_key(files.ca_key, ca_key)
    return files


def make_legacy_certs(directory: Path, common_name: str = "legacy test CA") -> CertFiles:
    """Write a legacy CA without key identifiers and a server certificate signed by it."""
    return make_certs(directory, common_name, strict=False)
