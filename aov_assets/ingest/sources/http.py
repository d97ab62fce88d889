"""What both store clients share: one pooled HTTP connection per store, and reading an answer's Retry-After."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Self

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, retry_if_result, wait_random_exponential


class PooledClient:
    """A store API's client: one httpx connection pool for `concurrency` requests at once (and two more for
    lookups beside them), closed when its `with` block ends, and the retry timing both APIs get: the
    answer's Retry-After, else full jitter (spreads the retries of concurrent workers), within
    `retry_seconds`."""

    def __init__(
        self,
        base_url: str,
        *,
        concurrency: int,
        timeout_seconds: float,
        retry_seconds: float,
        backoff_seconds: float,
        headers: dict[str, str],
        auth: httpx.Auth | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.retry_seconds = retry_seconds
        self._jitter = wait_random_exponential(multiplier=backoff_seconds, max=30)  # uniform(0, min(30, b * 2**n))
        self.concurrency = max(concurrency, 1)
        connections = self.concurrency + 2
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout_seconds),
            headers={"Accept": "application/json", **headers},
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _retrying(self, transient: Callable[[Any], bool], give_up: Callable[[RetryCallState], Any]) -> Retrying:
        """Retry transport errors and answers `transient` calls so, with `_wait` between them, within
        `retry_seconds`; then `give_up` (which raises the client's own error)."""
        return Retrying(
            retry=retry_if_exception_type(httpx.TransportError) | retry_if_result(transient),
            wait=self._wait,
            stop=self._out_of_budget,
            retry_error_callback=give_up,
        )

    def _wait(self, state: RetryCallState) -> float:
        """The answer's Retry-After when it sent one (a retried answer is an httpx.Response), else full jitter."""
        outcome = None if state.outcome.failed else state.outcome.result()
        seconds = retry_after(outcome) if isinstance(outcome, httpx.Response) else None
        return self._jitter(state) if seconds is None else seconds

    def _out_of_budget(self, state: RetryCallState) -> bool:
        """Stop when the coming wait would end past `retry_seconds` (tenacity computes the wait first)."""
        return state.seconds_since_start + state.upcoming_sleep > self.retry_seconds


def retry_after(response: httpx.Response) -> float | None:
    """The answer's Retry-After in seconds (a number, or an HTTP date), None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC, says RFC 5322
        moment = moment.replace(tzinfo=timezone.utc)
    return max((moment - datetime.now(timezone.utc)).total_seconds(), 0.0)
