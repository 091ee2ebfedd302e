"""The bridge's HTTP connection pools, set up once the way its two drivers need them.

The engine client runs on a bare `urllib3` pool (`engine_pool`): it sends one request per
snapshot, and `requests`' session machinery (preparing, merging settings, hooks, adapters) was
most of that call's CPU. Frigate's client, a few calls a minute, keeps a `requests.Session`
(`pooled_session`). Both avoid the same traps: proxy variables read on every call (CPU per
snapshot) and ~/.netrc (credentials nobody chose), a session-level `verify` that loses to
`REQUESTS_CA_BUNDLE`, and a pool that does not block and opens connections beyond its size
under load. Both read an answer the same way (`read_limited`): bounded in size and in time.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from econnect_bridge import __version__

USER_AGENT = f"econnect-bridge/{__version__}"


def verify_setting(*, verify_ssl: bool, ca_file: str | None) -> bool | str:
    """Return how to verify TLS: the CA file, the bundle named by the environment, or a flag.

    Frigate's driver passes it as `verify` on every request (a session-level one would lose
    to `REQUESTS_CA_BUNDLE`); the engine's pool is built with it (`engine_pool`).
    """
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


def engine_pool(base_url: str, *, pool_size: int, verify: bool | str) -> urllib3.PoolManager:
    """Return a blocking pool of `pool_size` connections for `base_url`, TLS set as `verify` says.

    `verify` is what `verify_setting` returned: False, True (the same CA bundle as
    `requests`), or a CA file or folder. The proxy for `base_url` is read from the environment
    once, as `requests` reads it (`no_proxy` included); a proxy URL's credentials are sent as
    Proxy-Authorization. Nothing is retried or redirected: one call is one request.
    """
    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE"}
    if verify:
        where = DEFAULT_CA_BUNDLE_PATH if verify is True else str(verify)
        tls["ca_cert_dir" if os.path.isdir(where) else "ca_certs"] = where
    options: dict[str, Any] = {
        "num_pools": 1,
        "maxsize": pool_size,
        "block": True,
        "retries": False,
        "headers": {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
        **tls,
    }
    proxy = engine_proxy(base_url)
    if proxy is None:
        return urllib3.PoolManager(**options)
    auth = urllib3.util.parse_url(proxy).auth
    headers = urllib3.util.make_headers(proxy_basic_auth=auth) if auth else None
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **options)


def engine_proxy(base_url: str) -> str | None:
    """Return the proxy URL the environment names for `base_url`, or None."""
    proxies = requests.utils.get_environ_proxies(base_url)
    scheme = urlsplit(base_url).scheme.lower()
    return proxies.get(scheme) or proxies.get("all") or None


class EngineConnections:
    """The engine's keep-alive pool, reached directly (or through the proxy, by URL).

    Without a proxy, requests go straight to the one connection pool of the engine's origin:
    `PoolManager.urlopen` would parse the URL and look the pool up again on every call.
    """

    def __init__(self, base_url: str, *, pool_size: int, verify: bool | str) -> None:
        self.proxied = engine_proxy(base_url) is not None
        self._manager = engine_pool(base_url, pool_size=pool_size, verify=verify)
        self._headers = dict(self._manager.headers)
        parts = urlsplit(base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._direct: urllib3.HTTPConnectionPool | None = None
        if not self.proxied:
            self._direct = self._manager.connection_from_url(base_url)

    def open(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        timeout: urllib3.Timeout,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request; the answer streams (`read_limited`, then `release_conn`)."""
        options: dict[str, Any] = {
            "body": body,
            "headers": {**self._headers, **headers},
            "timeout": timeout,
            "preload_content": False,
            "redirect": False,
            "retries": False,
        }
        direct = self._direct
        if direct is not None and url.startswith(self._origin):
            return direct.urlopen(method, url[len(self._origin) :] or "/", **options)
        return self._manager.urlopen(method, url, **options)

    def close(self) -> None:
        """Close every pooled connection (a later call opens a new one)."""
        self._direct = None
        self._manager.clear()


class BodyTooLargeError(ValueError):
    """A response body above the driver's limit: not what the peer should ever send."""

    def __init__(self, limit: int, status: int) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit
        self.status = status


class BodyDeadlineError(Exception):
    """A response body still coming when the call's time was up (a trickle, or no end)."""


def read_limited(raw: urllib3.BaseHTTPResponse, *, limit: int, deadline: float) -> bytes:
    """Read a streamed urllib3 body, refusing one that is huge or that never ends.

    `read1` returns after each socket read, so a body trickling in slowly is cut at the
    deadline; `read(n)` would wait for a whole chunk however long it took. Raises
    `BodyTooLargeError` above `limit`, `BodyDeadlineError` past `deadline`, and urllib3's or
    the socket's own errors when the connection breaks or stops sending.
    """
    read1 = getattr(raw, "read1", None)  # urllib3 >= 2.3
    chunks: list[bytes] = []
    size = 0
    while chunk := (read1(65536, decode_content=True) if read1 else raw.read(4096, True)):
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit, raw.status)
        if time.monotonic() > deadline:
            raise BodyDeadlineError("the answer kept coming past the timeout")
        chunks.append(chunk)
    return b"".join(chunks)


def read_body(response: requests.Response, *, limit: int, deadline: float) -> bytes:
    """`read_limited` for a streamed `requests` response, with requests' errors.

    A body past the deadline raises `requests` ReadTimeout and a broken one ConnectionError,
    so the driver's own mapping of requests' errors applies; one above `limit` raises
    `BodyTooLargeError`.
    """
    try:
        return read_limited(response.raw, limit=limit, deadline=deadline)
    except BodyDeadlineError as err:
        raise requests.exceptions.ReadTimeout(str(err)) from err
    except urllib3.exceptions.ReadTimeoutError as err:
        raise requests.exceptions.ReadTimeout("the answer stopped coming") from err
    except (urllib3.exceptions.HTTPError, OSError) as err:
        msg = f"the connection broke while reading the answer: {err}"
        raise requests.exceptions.ConnectionError(msg) from err


def one_line_error(err: Exception) -> str:
    """Describe a transport error in one line (requests and urllib3 nest the cause deeply)."""
    text = str(err.__context__ or err) if isinstance(err.__context__, OSError) else str(err)
    return text.splitlines()[0][:300] if text else type(err).__name__
