"""The seed's problem reproduced on 127.0.0.1: an HTTPS server whose certificate comes from a test
"DOI root" (as behind the Department's TLS-inspecting proxy) is reached by real clients configured the
way the doi_cert role configures conda and pip. With the bundle the role builds they succeed; with the
public roots alone (certifi, what conda ships) they fail with a certificate error.

Clients: ``requests`` with ``session.verify`` read from the rendered condarc (what conda does with
``ssl_verify``), pip itself reading the rendered pip.ini, and Python 2.7's urllib2 (Miniconda2's
Python generation) when a 2.7 interpreter is present. The server binds 127.0.0.1 only, serves in a
thread, and shuts itself down after at most 120 s even if a test hangs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import http.server
import io
import os
import shutil
import ssl
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
import requests
import yaml
from ruamel.yaml import YAML

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "unit"))
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_bundle import (
    CertificateSource,
    prepare_bundle,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import (
    PIP_COMMENT as PIP_HEADER,
)
from ansible_collections.arcgis_conda.fleet.plugins.module_utils.doi_cert_plan import (
    ini_get,
    ini_set,
    render_condarc,
)
from doi_cert_testca import Issued, make_ca, make_server

# Variables that would override what we configure (this very machine sets several of them).
OVERRIDING_ENV = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_CERT",
    "PIP_CONFIG_FILE",
    "PIP_FIND_LINKS",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CONSTRAINT",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
)
WHEEL_NAME = "doidemo-1.0-py3-none-any.whl"


def _wheel() -> bytes:
    buf = io.BytesIO()
    files = {
        "doidemo/__init__.py": b"",
        "doidemo-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: doidemo\nVersion: 1.0\n",
        "doidemo-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},,\n" for name in files) + "doidemo-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr("doidemo-1.0.dist-info/RECORD", record)
    return buf.getvalue()


WHEEL = _wheel()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        digest = hashlib.sha256(WHEEL).hexdigest()
        pages = {
            "/repodata.json": (b'{"packages": {}}', "application/json"),
            "/simple/doidemo/": (
                f'<a href="/packages/{WHEEL_NAME}#sha256={digest}">{WHEEL_NAME}</a>'.encode(),
                "text/html",
            ),
            f"/packages/{WHEEL_NAME}": (WHEEL, "application/octet-stream"),
        }
        body, kind = pages.get(self.path, (b"not found", "text/plain"))
        self.send_response(200 if self.path in pages else 404)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass


@dataclasses.dataclass
class Server:
    url: str
    ca: Issued


@pytest.fixture(scope="module")
def doi_server(tmp_path_factory) -> Iterator[Server]:
    ca = make_ca("Test DOI Root CA (TLS inspection)")
    leaf = make_server(ca, "127.0.0.1")
    folder = tmp_path_factory.mktemp("tls")
    (folder / "server.pem").write_bytes(leaf.pem)
    (folder / "server.key").write_bytes(leaf.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    watchdog = threading.Timer(120, httpd.shutdown)  # the server stops itself whatever happens
    watchdog.start()
    try:
        yield Server(url=f"https://127.0.0.1:{httpd.server_address[1]}", ca=ca)
    finally:
        watchdog.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def clean_env(monkeypatch):
    for name in OVERRIDING_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def built(doi_server, tmp_path_factory) -> dict[str, Path]:
    """The bundle as the role builds it (certifi + the DOI root), and the certifi-only control."""
    certifi_pem = Path(certifi.where()).read_bytes()
    result = prepare_bundle(
        [CertificateSource("certificate file DOIRootCA.crt", doi_server.ca.der)],  # DER, like a .cer export
        now=dt.datetime.now(dt.UTC),
        public_roots_pem=certifi_pem,
        public_roots_source="certifi (test)",
    )
    folder = tmp_path_factory.mktemp("certs")
    bundle = folder / "ca-bundle.pem"
    bundle.write_text(result.bundle_pem, encoding="utf-8", newline="")
    public_only = folder / "certifi-only.pem"
    public_only.write_bytes(certifi_pem)
    return {"bundle": bundle, "public_only": public_only}


def _condarc_ssl_verify(path: Path) -> str:
    """Read ssl_verify back from a rendered condarc the way conda does (value and #!final flag)."""
    text = path.read_text(encoding="utf-8")
    loaded = YAML().load(io.StringIO(text))
    assert loaded.ca.items["ssl_verify"][2].value.strip() == "#!final"
    value = yaml.safe_load(text)["ssl_verify"]
    assert Path(value).exists(), "conda rejects an ssl_verify path that does not exist"
    return value


def test_requests_trusts_the_doi_server_with_the_built_bundle_only(doi_server, built, clean_env, tmp_path):
    condarc = tmp_path / "doi_cert.yml"
    condarc.write_text(render_condarc(str(built["bundle"]), final=True), encoding="utf-8", newline="")
    session = requests.Session()
    session.verify = _condarc_ssl_verify(condarc)  # conda: CondaSession.verify = context.ssl_verify
    response = session.get(f"{doi_server.url}/repodata.json", timeout=10)
    assert response.status_code == 200 and response.json() == {"packages": {}}

    control = requests.Session()
    control.verify = str(built["public_only"])  # what conda ships: certifi alone
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        control.get(f"{doi_server.url}/repodata.json", timeout=10)


def test_a_machine_requests_ca_bundle_silently_overrides_condas_setting(
    doi_server, built, clean_env, monkeypatch
):
    """Why doi_cert_env_vars is empty by default: requests prefers REQUESTS_CA_BUNDLE over session.verify."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(built["public_only"]))
    session = requests.Session()
    session.verify = str(built["bundle"])
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{doi_server.url}/repodata.json", timeout=10)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(built["bundle"]))  # pointing both at the bundle works
    assert requests.Session().get(f"{doi_server.url}/repodata.json", timeout=10).status_code == 200


@pytest.fixture(scope="module")
def pip_venv(tmp_path_factory) -> Path:
    """A throw-away venv whose site-level pip.conf plays C:\\ProgramData\\pip\\pip.ini."""
    venv = tmp_path_factory.mktemp("pipvenv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=240)
    return venv


def _pip_download(venv: Path, url: str, dest: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDING_ENV and not k.startswith("PIP_")}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_CONFIG_DIRS": str(home)})
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--retries",
            "0",
            "--timeout",
            "10",
            "--index-url",
            f"{url}/simple/",
            "--dest",
            str(dest),
            "doidemo==1.0",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_pip_reads_the_rendered_pip_ini_and_trusts_the_doi_server(doi_server, built, pip_venv, tmp_path):
    site_config = pip_venv / "pip.conf"  # pip's "site" file: it wins over /etc/pip.conf on this machine
    pip_ini = ini_set(PIP_HEADER + "\r\n", "global", "cert", str(built["bundle"]))
    assert ini_get(pip_ini, "global", "cert") == str(built["bundle"])
    site_config.write_text(pip_ini, encoding="utf-8", newline="")
    ok = _pip_download(pip_venv, doi_server.url, tmp_path / "ok", tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (tmp_path / "ok" / WHEEL_NAME).read_bytes() == WHEEL

    site_config.write_text(ini_set("", "global", "cert", str(built["public_only"])), encoding="utf-8")
    failed = _pip_download(pip_venv, doi_server.url, tmp_path / "no", tmp_path)
    assert failed.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in failed.stdout + failed.stderr
    assert not (tmp_path / "no" / WHEEL_NAME).exists()


PY27 = r"""
import ssl, sys, urllib2
context = ssl.create_default_context(cafile=sys.argv[1])
try:
    print(urllib2.urlopen(sys.argv[2], context=context, timeout=10).read())
except urllib2.URLError as exc:
    print("FAILED %s" % exc)
    sys.exit(3)
"""


def _python27() -> list[str] | None:
    pyenv = shutil.which("pyenv")
    if pyenv:
        found = subprocess.run([pyenv, "prefix", "2.7.18"], capture_output=True, text=True, check=False)
        if found.returncode == 0 and Path(found.stdout.strip(), "bin", "python2.7").exists():
            return [str(Path(found.stdout.strip(), "bin", "python2.7"))]
    path = shutil.which("python2.7")
    return (
        [path]
        if path and subprocess.run([path, "-V"], capture_output=True, check=False).returncode == 0
        else None
    )


@pytest.mark.skipif(_python27() is None, reason="no Python 2.7 interpreter on this machine")
def test_python27_ssl_accepts_the_bundle_like_miniconda2(doi_server, built, clean_env):
    python = _python27()
    assert python is not None
    url = f"{doi_server.url}/repodata.json"
    ok = subprocess.run(
        [*python, "-c", PY27, str(built["bundle"]), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0 and '{"packages": {}}' in ok.stdout, ok.stdout + ok.stderr
    bad = subprocess.run(
        [*python, "-c", PY27, str(built["public_only"]), url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 3 and "CERTIFICATE_VERIFY_FAILED" in bad.stdout


def test_controller_downloads_trust_the_given_ca_file_through_open_url(doi_server, clean_env, tmp_path):
    """The mirror's fetch (ansible-core's open_url) trusts exactly ca_file; every failure is an OSError
    (what fleet_mirror catches and reports); the lock's channel probe reports, never raises."""
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.arcgis_env_lock import _channel_probe
    from ansible_collections.arcgis_conda.fleet.plugins.module_utils.fleet_mirror import url_fetcher

    ca_file = tmp_path / "doi-root.pem"
    ca_file.write_bytes(doi_server.ca.pem)
    assert url_fetcher(10, str(ca_file))(f"{doi_server.url}/repodata.json") == b'{"packages": {}}'
    with pytest.raises(OSError, match="404"):
        url_fetcher(10, str(ca_file))(f"{doi_server.url}/missing.json")
    with pytest.raises(OSError, match=r"(?i)certificate"):
        url_fetcher(10)(f"{doi_server.url}/repodata.json")  # the public roots do not know the DOI root
    assert "certificate" in (_channel_probe(doi_server.url, "noarch", 10) or "").lower()
