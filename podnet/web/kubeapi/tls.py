"""The lab API's credentials: a certificate authority and a serving certificate for
127.0.0.1 and localhost, and a bearer token, made once per lab.

Mirrors what kubeadm writes to /etc/kubernetes/pki (a cluster CA, the apiserver's serving
certificate) and a static bearer token, as ``kind get kubeconfig`` hands out a lab's. kubectl
only sends a bearer token over TLS, so the API is served over HTTPS. The files live in the
lab's own directory, the keys and the token with mode 0600, and go with the lab.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import socket
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Credentials:
    directory: str

    @property
    def ca(self) -> str:
        return os.path.join(self.directory, "ca.crt")

    @property
    def cert(self) -> str:
        return os.path.join(self.directory, "apiserver.crt")

    @property
    def key(self) -> str:
        return os.path.join(self.directory, "apiserver.key")

    @property
    def token_file(self) -> str:
        return os.path.join(self.directory, "token")

    def token(self) -> str:
        with open(self.token_file, encoding="ascii") as handle:
            return handle.read().strip()

    def ca_pem(self) -> bytes:
        with open(self.ca, "rb") as handle:
            return handle.read()


def _write(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(path, mode)


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def ensure(directory: str, lab: str, listen: str = "127.0.0.1") -> Credentials:
    """The lab's credentials, made if they do not exist yet; the serving certificate names
    loopback, this machine and the address listened on."""
    creds = Credentials(directory)
    if all(os.path.exists(p) for p in (creds.ca, creds.cert, creds.key, creds.token_file)):
        return creds
    os.makedirs(directory, mode=0o700, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    later = now + datetime.timedelta(days=365)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"podnet-{lab}-ca")
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(later)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    addresses = {ipaddress.ip_address(a) for a in ("127.0.0.1", "::1", listen)} - {ipaddress.ip_address("0.0.0.0"),
                                                                                ipaddress.ip_address("::")}
    names = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname())]
    names += [x509.IPAddress(a) for a in sorted(addresses, key=lambda a: (a.version, int(a)))]
    cert = (x509.CertificateBuilder().subject_name(_name("kube-apiserver")).issuer_name(ca_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(later)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    _write(creds.ca, ca.public_bytes(pem), 0o644)
    _write(creds.cert, cert.public_bytes(pem), 0o644)
    _write(creds.key, key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
    _write(creds.token_file, secrets.token_hex(24).encode(), 0o600)
    return creds
