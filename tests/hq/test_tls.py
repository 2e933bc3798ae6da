"""TLS: ``pos-hq serve --tls-cert --tls-key`` (with workers too), a till that trusts HQ's
CA alone, and plain HTTP only to loopback unless explicitly allowed."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pos_app.hq import admin
from pos_app.hq.cli import main as hq_main
from pos_app.hq.database import HQDatabase
from pos_app.services.context import open_till
from pos_app.services.sync import HQClient, HQUnavailable, SyncConfigError, load_sync_config
from pos_app.services.sync.client import check_hq_url
from tests.hq.support import serving

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Pki:
    """A throw-away CA and a server certificate it signed for 127.0.0.1 and localhost."""

    ca: Path
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_pki(folder: Path, label: str) -> Pki:
    """A CA named ``label`` and a server certificate it signs."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{label} CA"))
        .issuer_name(_name(f"{label} CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("hq.points-till.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pki = Pki(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(_pem_key(key))
    pki.key.chmod(0o600)
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), "Points Till HQ")


@pytest.fixture(scope="module")
def impostor(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("impostor"), "Someone Else")


def _admin_token(db_url: str) -> str:
    db = HQDatabase(db_url)
    try:
        db.migrate()
        admin.create_store(db, "001", "一号店", dt.datetime.now(dt.UTC))
        return admin.create_admin(db, "总部", dt.datetime.now(dt.UTC)).token
    finally:
        db.close()


def _pos_app(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pos_app.cli.main", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_hq_serves_tls_and_the_till_trusts_its_ca_alone(
    pg_database: str, pki: Pki, impostor: Pki, tmp_path: Path, workers: str
) -> None:
    token = _admin_token(pg_database)
    flags = ("--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--workers", workers)
    with serving(pg_database, *flags, ca=pki.ca) as base:
        assert base.startswith("https://")
        with pytest.raises(httpx.TransportError):  # no plain HTTP on that port
            httpx.get(base.replace("https://", "http://") + "/health", timeout=3)
        trusted = HQClient(base, token, ca_pem=pki.ca.read_text())
        with trusted:
            assert trusted.request("GET", "/v1/admin/stores")[0]["code"] == "001"
        fooled = HQClient(base, token, ca_pem=impostor.ca.read_text())
        with fooled, pytest.raises(HQUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
            fooled.request("GET", "/v1/admin/stores")
        # the till registers with HQ's CA, keeps it, and syncs over TLS with it
        till = tmp_path / "till.sqlite"
        open_till(till).db.close()
        done = _pos_app(
            "--db", str(till), "register-till", "--hq", base, "--ca", str(pki.ca),
            "--admin-token", token, "--store", "001",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        ctx = open_till(till)
        try:
            config = load_sync_config(ctx, env={})
            assert config is not None
            assert config.ca_pem == pki.ca.read_text()
        finally:
            ctx.db.close()
        synced = _pos_app("--db", str(till), "sync", "--json")
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["pull"]["cursor"].startswith("v1:")  # synced


def test_a_till_registered_with_another_ca_refuses_the_server(
    pg_database: str, pki: Pki, impostor: Pki, tmp_path: Path
) -> None:
    token = _admin_token(pg_database)
    flags = ("--tls-cert", str(pki.cert), "--tls-key", str(pki.key))
    with serving(pg_database, *flags, ca=pki.ca) as base:
        till = tmp_path / "till.sqlite"
        open_till(till).db.close()
        done = _pos_app(
            "--db", str(till), "register-till", "--hq", base, "--ca", str(impostor.ca),
            "--admin-token", token, "--store", "001",
        )  # fmt: skip
        assert done.returncode == 2
        assert "CERTIFICATE_VERIFY_FAILED" in done.stderr


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8700", True),
        ("http://localhost:8700", True),
        ("http://[::1]:8700", True),
        ("https://hq.example.com", True),
        ("http://hq.example.com", False),
        ("http://192.168.1.20:8700", False),
        ("ftp://hq.example.com", False),
    ],
)
def test_plain_http_goes_to_loopback_only(url: str, allowed: bool) -> None:
    if allowed:
        check_hq_url(url)
    else:
        with pytest.raises(SyncConfigError):
            check_hq_url(url)
        if url.startswith("http://"):
            check_hq_url(url, allow_insecure_http=True)  # explicitly allowed


def test_registering_over_plain_http_to_another_machine_is_refused(tmp_path: Path) -> None:
    till = tmp_path / "till.sqlite"
    open_till(till).db.close()
    done = _pos_app(
        "--db", str(till), "register-till", "--hq", "http://192.0.2.10:8700",
        "--admin-token", "pta_x", "--store", "001",
    )  # fmt: skip
    assert done.returncode == 2
    assert "refusing plain HTTP" in done.stderr


def test_pos_hq_refuses_plain_http_off_loopback_and_bad_tls_files(
    pg_database: str, pki: Pki, impostor: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    db = ("--db", pg_database)
    assert hq_main(["serve", *db, "--host", "0.0.0.0"]) == 2
    assert "refusing to serve plain HTTP on 0.0.0.0" in capsys.readouterr().err
    assert hq_main(["serve", *db, "--tls-cert", str(pki.cert)]) == 2
    assert "go together" in capsys.readouterr().err
    mismatched = ("--tls-cert", str(pki.cert), "--tls-key", str(impostor.key))
    assert hq_main(["serve", *db, *mismatched]) == 2
    assert "cannot serve TLS" in capsys.readouterr().err


def test_the_tls_context_trusts_only_the_given_ca(pki: Pki) -> None:
    from pos_app.services.sync.client import tls_context

    context = tls_context(pki.ca.read_text())
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "Points Till HQ CA"),),)
    ]
