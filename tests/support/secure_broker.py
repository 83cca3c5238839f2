"""A mosquitto set up the way docs/MQTT_BROKER.md says to deploy it: TLS only (a throw-away CA and server
certificate made at test time), a password file, and the documented ACL file — the very files under
docs/mqtt/, with paths and the port rewritten, so the documentation is what the tests prove."""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import shutil
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.mosquitto import Mosquitto

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mqtt"


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.crt, server.crt, server.key): a CA and a server certificate for 127.0.0.1 and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sharpeyes test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = folder / "ca.crt", folder / "server.crt", folder / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return ca_path, cert_path, key_path


def write_password_file(path: Path, accounts: dict[str, str]) -> None:
    """Hashed with Debian's mosquitto_passwd, exactly as an operator would."""
    exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    path.write_text("")
    for user, password in accounts.items():
        subprocess.run([exe, "-b", str(path), user, password], check=True, capture_output=True)
    path.chmod(0o600)


class SecureMosquitto(Mosquitto):
    def __init__(self, workdir: Path, accounts: dict[str, str]) -> None:
        super().__init__(workdir)
        certs = workdir / "certs"
        self.ca, cert, key = make_certificates(certs)
        passwd, acl = workdir / "sharpeyes.passwd", workdir / "sharpeyes.acl"
        write_password_file(passwd, accounts)
        shutil.copyfile(DOCS / "acl", acl)
        conf = (DOCS / "mosquitto.conf").read_text()
        for documented, here in (
            ("/etc/mosquitto/sharpeyes.passwd", str(passwd)),
            ("/etc/mosquitto/sharpeyes.acl", str(acl)),
            ("/etc/mosquitto/certs/server.crt", str(cert)),
            ("/etc/mosquitto/certs/server.key", str(key)),
            ("/var/lib/mosquitto/", f"{workdir}/"),
            ("listener 8883\n", f"listener {self.port} 127.0.0.1\n"),
        ):
            assert documented in conf, f"docs/mqtt/mosquitto.conf no longer mentions {documented!r}"
            conf = conf.replace(documented, here)
        # Started as root, mosquitto would switch to user "mosquitto", who cannot read the test's private
        # folder; as anyone else the option is ignored.
        user = f"user {getpass.getuser()}\n"
        self.conf.write_text(conf + user + "log_dest stderr\nlog_type all\n")
        self.log = workdir / "mosquitto.log"

    def start(self) -> SecureMosquitto:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stderr=out)
        from tests.support.ports import wait_port

        wait_port(self.port)
        return self
