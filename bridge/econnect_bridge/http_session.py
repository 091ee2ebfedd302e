"""One pooled `requests.Session` set up the way both of the bridge's HTTP drivers need it.

The engine client and Frigate's client share the same traps: `trust_env` re-reads the proxy
variables and ~/.netrc on every call (CPU per snapshot, and a .netrc entry would add
credentials nobody chose), a session-level `verify` loses to `REQUESTS_CA_BUNDLE`, and a pool
that does not block opens connections beyond its size under load. Set up once, here.
"""

from __future__ import annotations

import os

import requests
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
