"""A private CA made with docs/security.md's own openssl commands, on Python 3.11 and 3.13.

Python 3.13 verifies certificates strictly (VERIFY_X509_STRICT). The tests run the shell blocks
that docs/security.md marks with `<!-- strict-tls: NAME -->`, exactly as a reader would paste
them, so the recipe and the test cannot drift. A legacy CA without key identifiers must be
refused on 3.13 with the message that says what to re-issue, and accepted on 3.11: each
version's behaviour is asserted, none is skipped.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from econnect_bridge.client import EconnectClient
from econnect_bridge.config import load_config
from econnect_bridge.doctor import DoctorOptions, check_engine
from econnect_bridge.emulator import Emulator
from econnect_identities.aio import AsyncEconnectClient, build_ssl_context
from econnect_identities.errors import STRICT_TLS_DOCS, EconnectStrictTLSError
from econnect_identities.models import PublishOptions
from tests.integration.helpers import sample
from tests.support.certs import make_legacy_certs

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECURITY_MD = ROOT / "docs" / "security.md"
STRICT = sys.version_info >= (3, 13)
USER, PASSWORD = "bridge", "bridge-password"
PERSON = PublishOptions(include_person=True)  # "known" needs the person in the answer
BLOCK = re.compile(r"<!-- strict-tls: ([a-z-]+) -->\n```bash\n(.*?)```", re.DOTALL)


def doc_blocks() -> dict[str, str]:
    """Return the shell blocks of docs/security.md's recipe, by the name of their marker."""
    return dict(BLOCK.findall(SECURITY_MD.read_text(encoding="utf-8")))


def run_block(name: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run one block of the recipe with bash in `folder`, as a reader would; fail loudly."""
    assert shutil.which("openssl"), "openssl is needed (Debian: apt-get install openssl)"
    script = doc_blocks()[name]
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"block {name} failed:\n{done.stdout}\n{done.stderr}"
    return done


def strict_verify(folder: Path) -> subprocess.CompletedProcess[str]:
    """What `openssl verify -x509_strict` says about folder's server.pem (the doc's check)."""
    return subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", "ca.pem", "server.pem"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def recognise_sync(url: str, ca_file: Path) -> str:
    """Sign in and recognise the sample face with the requests driver; return the outcome."""
    with EconnectClient(url, username=USER, password=PASSWORD, ca_file=str(ca_file)) as client:
        result = client.publish_with_response(
            sample("jane.jpg"),
            detector_name="FrontDoorCam",
            time_zone="Europe/Paris",
            options=PERSON,
        )
    return result.outcome


def recognise_async(url: str, ca_file: Path) -> str:
    """The same with the aiohttp driver (the Home Assistant integration's)."""

    async def run() -> str:
        context = build_ssl_context(verify_ssl=True, ca_file=str(ca_file))
        async with aiohttp.ClientSession() as session:
            client = AsyncEconnectClient(
                session, url, username=USER, password=PASSWORD, ssl_context=context
            )
            result = await client.publish_with_response(
                sample("jane.jpg"),
                detector_name="FrontDoorCam",
                time_zone="Europe/Paris",
                options=PERSON,
            )
        return result.outcome

    return asyncio.run(run())


Recognise = Callable[[str, Path], str]
DRIVERS = pytest.mark.parametrize(
    "recognise", [recognise_sync, recognise_async], ids=["requests", "aiohttp"]
)


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    """A CA and server certificate made by running the doc's recipe, checked as the doc says."""
    run_block("make-ca", tmp_path)
    run_block("make-server", tmp_path)
    assert "server.pem: OK" in run_block("check", tmp_path).stdout
    return tmp_path


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A legacy CA without Subject and Authority Key Identifiers, and a server cert it signed."""
    make_legacy_certs(tmp_path / "legacy")
    return tmp_path / "legacy"


def test_the_doc_names_every_block_the_tests_run() -> None:
    assert set(doc_blocks()) == {"make-ca", "make-server", "check", "fix-ca"}
    assert f'<a id="{STRICT_TLS_DOCS.split("#")[1]}"></a>' in SECURITY_MD.read_text()


@DRIVERS
def test_doc_recipe_ca_is_accepted(pki: Path, recognise: Recognise) -> None:
    """The recipe's CA works on this Python, 3.13's strict checks included."""
    with Emulator(certfile=pki / "server.pem", keyfile=pki / "server.key") as emu:
        assert recognise(emu.url, pki / "ca.pem") == "known"


@DRIVERS
def test_legacy_ca_is_refused_on_313_with_the_fix(legacy: Path, recognise: Recognise) -> None:
    """3.13 refuses a CA without key identifiers and says what to re-issue; 3.11 accepts it."""
    with Emulator(certfile=legacy / "server.pem", keyfile=legacy / "server.key") as emu:
        if not STRICT:
            assert recognise(emu.url, legacy / "ca.pem") == "known"
            return
        with pytest.raises(EconnectStrictTLSError) as refused:
            recognise(emu.url, legacy / "ca.pem")
    message = str(refused.value)
    assert refused.value.code == "tls_error"  # the published error code does not change
    assert "certificate verify failed: Missing Authority Key Identifier" in message
    assert "Python 3.13 and later verify certificates strictly" in message
    assert "Authority Key Identifier with a key id" in message
    assert STRICT_TLS_DOCS in message
    assert "set api.ca_file" not in message  # it is set already: that advice would mislead
    assert "verify_ssl: false" not in message  # never suggested as the fix


def test_doc_example_output_is_what_openssl_says_of_a_legacy_ca(legacy: Path) -> None:
    """The two error lines docs/security.md shows are what `-x509_strict` prints."""
    said = strict_verify(legacy)
    assert said.returncode != 0
    text = SECURITY_MD.read_text()
    for line in (
        "error 85 at 0 depth lookup: Missing Authority Key Identifier",
        "error 86 at 1 depth lookup: Missing Subject Key Identifier",
    ):
        assert line in text
        assert line in said.stdout + said.stderr


@DRIVERS
def test_doc_fix_repairs_a_legacy_ca(legacy: Path, recognise: Recognise) -> None:
    """Signing the old CA again (same key) and issuing the server cert anew: accepted."""
    run_block("fix-ca", legacy)
    run_block("make-server", legacy)
    assert strict_verify(legacy).returncode == 0
    assert (legacy / "ca-old.pem").exists()
    with Emulator(certfile=legacy / "server.pem", keyfile=legacy / "server.key") as emu:
        assert recognise(emu.url, legacy / "ca.pem") == "known"


def test_doctor_names_the_missing_extension(legacy: Path, tmp_path: Path) -> None:
    """`doctor` on 3.13: a FAIL whose fix is the re-issue recipe, not api.ca_file; 3.11: OK."""
    with Emulator(certfile=legacy / "server.pem", keyfile=legacy / "server.key") as emu:
        path = tmp_path / "config.yaml"
        path.write_text(
            f"api:\n  url: {emu.url}\n  username: {USER}\n  password: {PASSWORD}\n"
            f"  time_zone: UTC\n  ca_file: {legacy / 'ca.pem'}\n"
            "mqtt:\n  host: 127.0.0.1\n"
            "cameras:\n  - name: porch\n    topic: cameras/porch/snapshot\n"
        )
        found = check_engine(load_config(path), DoctorOptions(publish_test_image=False))
    sign_in = next(f for f in found if f.check == "sign in")
    if not STRICT:
        assert sign_in.status == "ok", sign_in
        return
    assert sign_in.status == "fail"
    assert "Missing Authority Key Identifier" in sign_in.detail
    assert sign_in.fix is not None
    assert STRICT_TLS_DOCS in sign_in.fix
    assert "api.ca_file" not in sign_in.fix
