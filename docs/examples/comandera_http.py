"""Send print jobs to a Comandera box over HTTP, with requests.

Use this when the backend reaches the box's API through a VPN or a tunnel
(WireGuard, Tailscale, Cloudflare Tunnel), never through a port forwarded on
the restaurant's router. docs/backend.md explains each part.
"""

import time

import requests


class ComanderaError(Exception):
    """The server refused the request: HTTP status, error code and message."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


# [START http_client]
class ComanderaHTTP:
    """A client for one box's HTTP API."""

    def __init__(self, base_url, token, timeout=10, verify=True):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout
        self.verify = verify  # a CA bundle path when the box uses its own certificate

    def print_ticket(self, printer, document, idempotency_key, callback_url=None,
                     expires_in="15m", metadata=None, attempts=5):
        """Queue a ticket and return the job (a dict with job_id and state).

        The idempotency key makes a retry safe: the box returns the job it
        queued the first time instead of printing twice. Keep it stable for
        one ticket, e.g. "order-8812-kitchen".
        """
        body = {"printer": printer, "document": document, "expires_in": expires_in}
        if callback_url:
            body["callback_url"] = callback_url  # must start with a server.backends prefix
        if metadata:
            body["metadata"] = metadata
        for attempt in range(attempts):
            try:
                r = self.session.post(f"{self.base_url}/print", json=body, timeout=self.timeout,
                                      headers={"Idempotency-Key": idempotency_key}, verify=self.verify)
            except requests.ConnectionError:
                if attempt == attempts - 1:
                    raise
                time.sleep(2 ** attempt)  # the tunnel may be reconnecting
                continue
            if r.status_code in (200, 202):
                return r.json()  # 202: queued (on disk); 200: a retry returned the first job
            if r.status_code in (429, 503) and attempt < attempts - 1:
                time.sleep(int(r.headers.get("Retry-After", "1")))  # queue full or restarting
                continue
            err = r.json().get("error", {})
            raise ComanderaError(r.status_code, err.get("code"), err.get("message"))
        raise ComanderaError(503, "unavailable", "gave up after retries")

    def job(self, job_id):
        """The job as the box has it now (state, attempts, last_error…)."""
        r = self.session.get(f"{self.base_url}/jobs/{job_id}", timeout=self.timeout, verify=self.verify)
        if r.status_code != 200:
            err = r.json().get("error", {})
            raise ComanderaError(r.status_code, err.get("code"), err.get("message"))
        return r.json()
# [END http_client]
