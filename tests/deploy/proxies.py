"""Caddy and nginx in front of `wacrm serve`, from the files in deploy/ (only addresses, ports
and certificates replaced): a local CA for Caddy (`local_certs`), a self-signed one for nginx."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.cli.test_serve import free_port
from tests.deploy.services import need

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@contextmanager
def caddy(folder: Path, upstream_port: int) -> Iterator[tuple[str, Path]]:
    """Debian's Caddy with deploy/Caddyfile; yields (https base URL, root CA file)."""
    binary = need("caddy", "caddy")
    port, http_port = free_port(), free_port()
    config = folder / "Caddyfile"
    config.write_text(
        "{\n\tadmin off\n\tlocal_certs\n\tskip_install_trust\n\tauto_https disable_redirects\n"
        f"\thttp_port {http_port}\n\thttps_port {port}\n\tstorage file_system {folder}/storage\n}}\n\n"
        + (DEPLOY / "Caddyfile").read_text()
    )
    env = {
        **os.environ,
        "WACRM_DOMAIN": f"localhost:{port}",
        "WACRM_UPSTREAM": f"127.0.0.1:{upstream_port}",
        "HOME": str(folder),
        "XDG_DATA_HOME": str(folder / "data"),
        "XDG_CONFIG_HOME": str(folder / "config"),
    }
    log = open(folder / "caddy.log", "wb")  # noqa: SIM115 - kept by the child
    proc = subprocess.Popen(
        [binary, "run", "--config", str(config), "--adapter", "caddyfile"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    root = folder / "storage/pki/authorities/local/root.crt"
    try:
        _wait_tls(f"https://localhost:{port}", root, proc, folder / "caddy.log")
        yield f"https://localhost:{port}", root
    finally:
        _stop(proc)
        log.close()


@contextmanager
def nginx(folder: Path, upstream_port: int) -> Iterator[tuple[str, Path]]:
    """Debian's nginx with deploy/nginx/wacrm.conf; yields (https base URL, certificate file)."""
    binary = need("nginx", "nginx-light")
    port, http_port = free_port(), free_port()
    cert, key = _self_signed(folder)
    site = (DEPLOY / "nginx" / "wacrm.conf").read_text()
    site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
    site = (
        site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
        .replace("listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;")
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("/etc/letsencrypt/live/crm.example.com/fullchain.pem", str(cert))
        .replace("/etc/letsencrypt/live/crm.example.com/privkey.pem", str(key))
        .replace("crm.example.com", "localhost")
    )
    (folder / "site.conf").write_text(site)
    temps = "\n".join(
        f"  {kind}_temp_path {folder}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (folder / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  access_log off;\n{temps}\n  include {folder}/site.conf;\n}}\n"
    )
    proc = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "nginx.log", "wb"),  # noqa: SIM115 - kept by the child
    )
    try:
        _wait_tls(f"https://localhost:{port}", cert, proc, folder / "error.log")
        yield f"https://localhost:{port}", cert
    finally:
        _stop(proc)


def trusting(ca: Path) -> ssl.SSLContext:
    """A TLS context that trusts only `ca` (the proxy's local CA or self-signed certificate)."""
    return ssl.create_default_context(cafile=str(ca))


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
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
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _wait_tls(url: str, ca: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"the proxy exited: {log.read_text()[-3000:] if log.exists() else ''}"
            )
        if ca.exists():
            try:
                httpx.get(url + "/healthz", verify=trusting(ca), timeout=3)
                return
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    raise AssertionError(
        f"the proxy did not answer on {url}: {log.read_text()[-3000:] if log.exists() else ''}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
