"""The payload decoder lives in the lean core, and the bridge's names are the core's objects."""

from __future__ import annotations

import ast
import base64
import sys
from pathlib import Path

import pytest

from econnect_bridge import sources
from econnect_identities import payloads

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
CORE_PAYLOADS = Path(payloads.__file__)


@pytest.mark.parametrize(
    "name",
    [
        "DecodedPayload",
        "PayloadError",
        "PayloadFormat",
        "PayloadKind",
        "decode_payload",
        "parse_time",
        "sniff_image_type",
    ],
)
def test_the_bridge_re_exports_the_core_decoder(name: str) -> None:
    assert getattr(sources, name) is getattr(payloads, name)
    assert name in sources.__all__


def test_the_decoder_imports_the_standard_library_only() -> None:
    """The integration runs it inside Home Assistant: no third-party import may creep in."""
    tree = ast.parse(CORE_PAYLOADS.read_text(encoding="utf-8"))
    tops = {
        (node.module if isinstance(node, ast.ImportFrom) else alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert tops - {"__future__"} <= sys.stdlib_module_names


@pytest.mark.parametrize(
    "payload",
    [
        JPEG,
        b'{"image": "' + base64.b64encode(JPEG) + b'"}',
        b"data:image/jpeg;base64," + base64.b64encode(JPEG),
        b'  {"image": "data:image/jpeg;base64,' + base64.b64encode(JPEG) + b'"}',
    ],
)
def test_the_default_format_detects_every_encoding(payload: bytes) -> None:
    decoded = payloads.decode_payload(payload, payloads.PayloadFormat())
    assert decoded.image == JPEG
    assert decoded.content_type == "image/jpeg"


def test_the_default_limit_is_ten_mebibytes() -> None:
    assert payloads.PayloadFormat().max_bytes == payloads.DEFAULT_MAX_BYTES == 10 * 1024 * 1024
    with pytest.raises(payloads.PayloadError) as caught:
        payloads.decode_payload(
            JPEG + b"\x00" * payloads.DEFAULT_MAX_BYTES, payloads.PayloadFormat()
        )
    assert caught.value.code == "too_large"
