"""One pooled `requests.Session` set up the way both of the bridge's HTTP drivers need it.

The engine client and Frigate's client share the same traps: `trust_env` re-reads the proxy
variables and ~/.netrc on every call (CPU per snapshot, and a .netrc entry would add
credentials nobody chose), a session-level `verify` loses to `REQUESTS_CA_BUNDLE`, and a pool
that does not block opens connections beyond its size under load. Set up once, here.
"""

from __future__ import annotations

import os
import time
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

from econnect_bridge import __version__

USER_AGENT = f"econnect-bridge/{__version__}"


def verify_setting(*, verify_ssl: bool, ca_file: str | None) -> bool | str:
    """Return what to pass as `verify` on every request: the CA file, the bundle, or a flag."""
    verify: bool | str = ca_file if (verify_ssl and ca_file) else verify_ssl
    if verify is True:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        return bundle or True
    return verify


def pooled_session(
    base_url: str, *, pool_size: int, session: requests.Session | None = None
) -> requests.Session:
    """Return `session` (or a new one) with a blocking pool of `pool_size` for `base_url`.

    The proxies for `base_url` are read from the environment once, then `trust_env` is off.
    """
    session = session if session is not None else requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, pool_block=True)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class BodyTooLargeError(ValueError):
    """A response body above the driver's limit: not what the peer should ever send."""

    def __init__(self, limit: int, status: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit
        self.status = status


def read_body(response: requests.Response, *, limit: int, deadline: float) -> bytes:
    """Read a streamed body, refusing one that is huge or that never ends.

    `read1` returns after each socket read, so a body trickling in slowly is cut at the
    deadline; `iter_content` would wait for a whole chunk however long it took. A body past
    the deadline raises `requests` ReadTimeout and a broken one ConnectionError, so each
    driver's own mapping of requests' errors applies; one above `limit` raises
    `BodyTooLargeError`.
    """
    raw = response.raw
    read1 = getattr(raw, "read1", None)  # urllib3 >= 2.3
    chunks: list[bytes] = []
    size = 0
    while chunk := _read_some(raw, read1):
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit, response.status_code)
        if time.monotonic() > deadline:
            msg = "the answer kept coming past the timeout"
            raise requests.exceptions.ReadTimeout(msg)
        chunks.append(chunk)
    return b"".join(chunks)


def _read_some(raw: Any, read1: Any) -> bytes:
    """Read what the socket has; urllib3's and the socket's errors become requests' ones."""
    try:
        data: bytes = read1(65536, decode_content=True) if read1 else raw.read(4096, True)
    except urllib3.exceptions.ReadTimeoutError as err:
        raise requests.exceptions.ReadTimeout("the answer stopped coming") from err
    except (urllib3.exceptions.HTTPError, OSError) as err:
        msg = f"the connection broke while reading the answer: {err}"
        raise requests.exceptions.ConnectionError(msg) from err
    return data


def one_line_error(err: Exception) -> str:
    """Describe a transport error in one line (requests nests the cause deeply)."""
    text = str(err.__context__ or err) if isinstance(err.__context__, OSError) else str(err)
    return text.splitlines()[0][:300] if text else type(err).__name__
