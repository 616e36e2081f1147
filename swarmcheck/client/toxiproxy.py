"""A Toxiproxy HTTP API client on which no call can hang.

Why not toxiproxy-python (0.1.1) directly: it keeps the server's host and port as *class*
attributes of ``APIConsumer`` (so two servers, or two threads, cannot be used at once), its
``Proxy``/``Toxiproxy`` methods call ``requests`` without a ``timeout`` (a stopped, paused or
partitioned server blocks the caller forever), it enables/disables proxies with ``POST``, which
Toxiproxy 2.12 logs as deprecated, and it passes non-4xx errors through silently. Neither
monkeypatching (global, not per instance) nor subclassing (``Proxy`` and ``Toxiproxy`` call the
module-level ``APIConsumer``, not a subclass) fixes the timeouts honestly, and either would still
rewrite every method. So this module keeps toxiproxy-python's conventions (the same endpoints and
JSON payloads, toxics named ``<type>_<stream>`` by default, ``down()`` as a context manager) and
makes the HTTP calls itself, each with an explicit ``(connect, read)`` timeout, through its own
``requests.Session`` that ignores ``HTTP(S)_PROXY`` environment variables.

Every failure, including a timeout, becomes :class:`swarmcheck.errors.FaultError` naming the
call, the URL and the reason. Bad arguments (an unknown toxic kind or attribute) raise
:class:`swarmcheck.errors.ConfigError` before anything is sent, because Toxiproxy silently
ignores unknown attributes (a ``latency`` toxic given ``{"delay": 300}`` would add nothing).

Bounds: each request waits at most ``timeout_s`` to connect and at most ``timeout_s`` between
bytes of the answer; Toxiproxy answers in one small write, so a call returns or raises within
about ``timeout_s`` (twice that in the worst case). Use an IP address in ``base_url``: name
resolution is not covered by ``requests``' timeouts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import quote

import requests

from swarmcheck.errors import ConfigError, FaultError
from swarmcheck.timing import wait_until

ToxicKind = Literal["latency", "bandwidth", "timeout", "reset_peer", "slow_close"]
Stream = Literal["upstream", "downstream"]

#: Attributes each supported toxic kind accepts (all integers; times in ms, rate in KB/s).
TOXIC_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = {
    "latency": frozenset({"latency", "jitter"}),  # ms added per chunk, +/- jitter ms
    "bandwidth": frozenset({"rate"}),  # KB/s
    "timeout": frozenset({"timeout"}),  # ms until the connection is closed; 0 = black hole
    "reset_peer": frozenset({"timeout"}),  # ms until a TCP RST
    "slow_close": frozenset({"delay"}),  # ms the close is delayed
}

_FAULT = "toxiproxy"


@dataclass(frozen=True)
class ToxicInfo:
    """A toxic as the server reports it."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy as the server reports it."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[ToxicInfo, ...] = ()


class ToxiproxyClient:
    """Talks to one Toxiproxy server, e.g. ``ToxiproxyClient("http://10.250.7.2:8474")``.

    Not thread-safe in the ``requests.Session`` sense; use one client per thread. Usable as a
    context manager (closes the session).
    """

    def __init__(self, base_url: str, timeout_s: float = 5.0) -> None:
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive, got {timeout_s}")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.trust_env = False  # never route through HTTP(S)_PROXY from the env
        self._session.headers["User-Agent"] = "swarmcheck-toxiproxy-client"

    # -- plumbing ---------------------------------------------------------------------------

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"ToxiproxyClient({self.base_url!r}, timeout_s={self.timeout_s})"

    def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        expect: tuple[int, ...] = (200,),
        timeout_s: float | None = None,
    ) -> requests.Response:
        url = self.base_url + path
        limit = self.timeout_s if timeout_s is None else timeout_s
        try:
            response = self._session.request(
                method, url, json=json_body, timeout=(limit, limit), allow_redirects=False
            )
        except requests.Timeout as exc:
            raise FaultError(
                f"{method} {url} failed: no answer within {limit:g}s ({exc})", _FAULT
            ) from exc
        except requests.RequestException as exc:
            raise FaultError(f"{method} {url} failed: {exc}", _FAULT) from exc
        if response.status_code not in expect:
            raise FaultError(
                f"{method} {url} failed: HTTP {response.status_code}: {_explain(response)}",
                _FAULT,
            )
        return response

    def _json(self, method: str, path: str, response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise FaultError(
                f"{method} {self.base_url}{path} answered with invalid JSON: "
                f"{response.text[:200]!r}",
                _FAULT,
            ) from exc

    # -- server -----------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version string (``GET /version``, JSON ``{"version": ...}`` in 2.x)."""
        return self._version(None)

    def _version(self, timeout_s: float | None) -> str:
        response = self._request("GET", "/version", timeout_s=timeout_s)
        try:
            body = response.json()
        except ValueError:  # Toxiproxy < 2.5 answered with plain text
            return response.text.strip()
        return str(body.get("version", "")) if isinstance(body, dict) else str(body)

    def wait_ready(self, timeout_s: float) -> str:
        """Poll ``GET /version`` until the server answers; return its version.

        Raises FaultError if it has not answered within ``timeout_s`` seconds.
        """

        def not_ready(what: str, waited_s: float, last_error: str | None) -> Exception:
            return FaultError(
                f"server at {self.base_url} not ready after {waited_s:g}s "
                f"(last error: {last_error or 'no answer'})",
                _FAULT,
            )

        return wait_until(
            lambda: self._version(max(0.05, min(self.timeout_s, timeout_s))),
            what=f"Toxiproxy at {self.base_url}",
            timeout_s=timeout_s,
            transient=(FaultError,),  # refused or unanswered while the server starts
            timeout_error=not_ready,
        )

    def reset(self) -> None:
        """``POST /reset``: remove every toxic and enable every proxy (heals everything)."""
        self._request("POST", "/reset", expect=(200, 204))

    # -- proxies ----------------------------------------------------------------------------

    def proxies(self) -> dict[str, ProxyInfo]:
        """All proxies by name, with their toxics."""
        response = self._request("GET", "/proxies")
        body = self._json("GET", "/proxies", response)
        if not isinstance(body, dict):
            raise FaultError(
                f"GET {self.base_url}/proxies: expected an object, got {body!r}", _FAULT
            )
        return {name: _proxy(value) for name, value in body.items()}

    def create_proxy(self, name: str, listen: str, upstream: str) -> ProxyInfo:
        """Create an enabled proxy listening on ``listen`` (``host:port`` inside the server's
        network namespace, e.g. ``0.0.0.0:18080``) and forwarding to ``upstream``."""
        payload = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        response = self._request("POST", "/proxies", json_body=payload, expect=(200, 201))
        return _proxy(self._json("POST", "/proxies", response))

    def delete_proxy(self, name: str) -> None:
        self._request("DELETE", _proxy_path(name), expect=(200, 204))

    def enable(self, name: str) -> None:
        """Bring a proxy up: it listens again (existing toxics stay)."""
        self._set_enabled(name, True)

    def disable(self, name: str) -> None:
        """Take a proxy down: it stops listening (new connections are refused) and drops the
        open ones."""
        self._set_enabled(name, False)

    @contextmanager
    def down(self, name: str) -> Iterator[None]:
        """The proxy is disabled inside the block and enabled again on the way out."""
        self.disable(name)
        try:
            yield
        finally:
            self.enable(name)

    def _set_enabled(self, name: str, enabled: bool) -> None:
        path = _proxy_path(name)
        try:
            # PATCH since 2.6; POST still works in 2.12 but the server logs it as deprecated.
            self._request("PATCH", path, json_body={"enabled": enabled})
        except FaultError as exc:
            if "HTTP 405" not in str(exc):
                raise
            self._request("POST", path, json_body={"enabled": enabled})  # older servers

    # -- toxics -----------------------------------------------------------------------------

    def add_toxic(
        self,
        proxy: str,
        kind: ToxicKind,
        attributes: Mapping[str, int],
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> str:
        """Add a toxic; return its name (``<kind>_<stream>`` unless ``name`` is given).

        ``downstream`` affects data flowing from the upstream back to the client; ``upstream``
        the client's data. ``toxicity`` is the probability (0..1) that a new connection gets it.
        """
        allowed = TOXIC_ATTRIBUTES.get(kind)
        if allowed is None:
            raise ConfigError(
                f"unknown toxic kind {kind!r}; supported: {', '.join(sorted(TOXIC_ATTRIBUTES))}"
            )
        unknown = set(attributes) - allowed
        if unknown:
            raise ConfigError(
                f"toxic {kind!r} does not take {sorted(unknown)}; it takes {sorted(allowed)}"
            )
        for key, value in attributes.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(
                    f"toxic {kind!r} attribute {key!r} must be a non-negative int, got {value!r}"
                )
        if stream not in ("upstream", "downstream"):
            raise ConfigError(f"stream must be 'upstream' or 'downstream', got {stream!r}")
        if not 0.0 <= toxicity <= 1.0:
            raise ConfigError(f"toxicity must be within 0..1, got {toxicity}")
        toxic_name = name or f"{kind}_{stream}"
        payload = {
            "name": toxic_name,
            "type": kind,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes),
        }
        path = _proxy_path(proxy) + "/toxics"
        response = self._request("POST", path, json_body=payload, expect=(200, 201))
        body = self._json("POST", path, response)
        return str(body["name"]) if isinstance(body, dict) and "name" in body else toxic_name

    def remove_toxic(self, proxy: str, name: str) -> None:
        path = f"{_proxy_path(proxy)}/toxics/{quote(name, safe='')}"
        self._request("DELETE", path, expect=(200, 204))

    def list_toxics(self, proxy: str) -> list[ToxicInfo]:
        path = _proxy_path(proxy) + "/toxics"
        body = self._json("GET", path, self._request("GET", path))
        if not isinstance(body, list):
            raise FaultError(f"GET {self.base_url}{path}: expected a list, got {body!r}", _FAULT)
        return [_toxic(item) for item in body]


def _proxy_path(name: str) -> str:
    return "/proxies/" + quote(name, safe="")


def _explain(response: requests.Response) -> str:
    """Toxiproxy's error body is ``{"error": "...", "status": N}`` (served as text/plain)."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return response.text.strip()[:200]


def _toxic(raw: Any) -> ToxicInfo:
    try:
        return ToxicInfo(
            name=str(raw["name"]),
            type=str(raw["type"]),
            stream=str(raw.get("stream", "downstream")),
            toxicity=float(raw.get("toxicity", 1.0)),
            attributes=dict(raw.get("attributes") or {}),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FaultError(f"unexpected toxic in server answer: {raw!r}", _FAULT) from exc


def _proxy(raw: Any) -> ProxyInfo:
    try:
        return ProxyInfo(
            name=str(raw["name"]),
            listen=str(raw["listen"]),
            upstream=str(raw["upstream"]),
            enabled=bool(raw["enabled"]),
            toxics=tuple(_toxic(item) for item in raw.get("toxics") or ()),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise FaultError(f"unexpected proxy in server answer: {raw!r}", _FAULT) from exc
