"""ServerClient: JSON over HTTP to an OpenAI-compatible server, with retries and clear errors.

A connection error or HTTP 408/429/5xx is retried with exponential backoff; a request that
times out once connected is not sent again (the server is busy, not gone). A rejected request
(HTTP 4xx, or llama-cpp-python's HTTP 500 "validation error") raises ``ServerRequestError``
with the status, so a caller can tell a schema rejection from a failure. At most
``max_in_flight`` requests are in flight at once, whichever threads send them: a request
waits for a free slot, and holds it only while it is on the wire (not during retry backoff).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from rain_guard.errors import BackendError

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class ServerUnavailableError(BackendError):
    """The server could not be reached (or kept failing) after all retries."""


class ServerRequestError(BackendError):
    """The server rejected a request (HTTP 4xx) or answered something unusable.

    Attributes:
        status: The HTTP status, or None when the answer itself was malformed.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerClient:
    """Requests to one server's ``/v1`` routes.

    Args:
        base_url: Server root (``/v1`` is added if missing).
        api_key: Sent as ``Authorization: Bearer``; None sends no header.
        timeout: Seconds per HTTP request.
        max_retries: Retries after a connection error or HTTP 408/429/5xx.
        retry_backoff: First retry delay in seconds; doubles per retry.
        max_in_flight: Requests in flight at once, over all threads (>= 1).

    Raises:
        ValueError: ``base_url`` is not an http(s) URL.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        retry_backoff: float,
        max_in_flight: int,
    ) -> None:
        self.base_url = v1_url(base_url)
        self.max_retries = int(max_retries)
        self.retry_backoff = float(retry_backoff)
        self.max_in_flight = int(max_in_flight)
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=self.max_in_flight + 2),
            headers=headers,
        )

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries (exponential backoff) on connection errors and 408/429/5xx."""
        return self._http("POST", path, body)

    def max_model_len(self, model: str | None) -> int | None:
        """``max_model_len`` of ``model`` (None: any) from ``GET /models`` (vLLM, SGLang)."""
        try:
            data = self._http("GET", "/models")
        except ServerRequestError:
            return None
        for card in data.get("data") or []:
            if not isinstance(card, dict):
                continue
            if model is not None and card.get("id") not in (model, None):
                continue
            value = card.get("max_model_len")
            if isinstance(value, int) and value > 0:
                return value
        return None

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

    def _http(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict:
        url = self.base_url + path
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.retry_backoff * 2 ** (attempt - 1))
            try:
                with self._slots:
                    response = self._client.request(method, url, json=body)
            except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
                # Alive but slow: sending the work again would only queue more of it.
                raise ServerUnavailableError(
                    f"the server at {url} did not answer within the timeout "
                    f"({type(exc).__name__}); raise timeout= or lower max_concurrency="
                ) from exc
            except httpx.TransportError as exc:  # refused, reset, DNS, connect timeouts
                last = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in _RETRY_STATUS and not _is_validation_error(response):
                last = f"HTTP {response.status_code}: {_error_text(response)}"
                continue
            if response.status_code >= 400:
                raise ServerRequestError(
                    f"the server at {url} rejected the request: HTTP {response.status_code}: "
                    f"{_error_text(response)}",
                    status=response.status_code,
                )
            try:
                data = response.json()
            except ValueError as exc:
                raise ServerRequestError(f"the server at {url} did not answer JSON") from exc
            if not isinstance(data, dict):
                raise ServerRequestError(f"the server at {url} answered {type(data).__name__}")
            return data
        raise ServerUnavailableError(
            f"the server at {url} is unreachable or failing after "
            f"{self.max_retries + 1} attempts ({last}); is it running?"
        )


def v1_url(base_url: str) -> str:
    """``base_url`` ending in ``/v1``.

    Raises:
        ValueError: not an http:// or https:// URL.
    """
    url = base_url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
    return url if url.endswith("/v1") else url + "/v1"


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message", data)))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:300]
    return str(data)[:300]


def _is_validation_error(response: httpx.Response) -> bool:
    """llama-cpp-python answers schema violations with HTTP 500 "N validation errors"."""
    return response.status_code == 500 and "validation error" in _error_text(response)
