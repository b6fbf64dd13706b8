"""Task control over haid's HTTP side port."""

import http.client
import json
import os
import ssl
import sys
import threading
import urllib.parse


class HaiError(Exception):
    """A task-control call failed; the message says why (HTTP status and haid's reason)."""


class TaskControl:
    """Client for one attempt's task-control endpoints.

    ``control_url``, ``attempt_id`` and ``token`` default to the pod environment
    (``HAI_CONTROL_URL``, ``HAI_ATTEMPT_ID``, ``HAI_TASK_TOKEN``). An ``https://`` control URL
    is verified against ``ca_file`` (default ``HAI_CA_FILE``, set by hai from haid's
    ``tls.ca_file``), else against the system store; an untrusted certificate is a HaiError.
    """

    def __init__(self, control_url=None, attempt_id=None, token=None, timeout=5.0,
                 ca_file=None):
        env = os.environ
        self.control_url = (control_url or env.get("HAI_CONTROL_URL", "")).strip()
        # Several haid replicas (docs/deploy.md, high availability): a comma list, tried in
        # order from the one that answered last. (A DNS name with several addresses needs no
        # list: the connection tries each address.)
        self._urls = [u.strip().rstrip("/") for u in self.control_url.split(",") if u.strip()]
        self._at = 0
        self.attempt_id = str(attempt_id or env.get("HAI_ATTEMPT_ID") or env.get("HAI_TASK_ID", ""))
        self.token = token or env.get("HAI_TASK_TOKEN", "")
        self.timeout = timeout
        self.ca_file = ca_file or env.get("HAI_CA_FILE") or None
        self._suspend_seen = False
        self._warned = False
        # One keep-alive connection for every call (haid keeps it open between polls for
        # server.http_idle_timeout_s); re-opened when haid closed it.
        self._conn = None
        self._lock = threading.Lock()

    @property
    def configured(self):
        return bool(self.control_url and self.attempt_id and self.token)

    def _connection(self):
        if self._conn is None:
            url = self._urls[self._at] if self._urls else ""
            parts = urllib.parse.urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise HaiError("bad HAI_CONTROL_URL %r" % url)
            if parts.scheme == "https":
                context = ssl.create_default_context(cafile=self.ca_file)
                self._conn = http.client.HTTPSConnection(parts.hostname, parts.port,
                                                         timeout=self.timeout, context=context)
            else:
                self._conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                                        timeout=self.timeout)
            self._prefix = parts.path.rstrip("/")
        return self._conn

    def _close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def close(self):
        """Closes the kept-alive connection (the next call opens a new one)."""
        with self._lock:
            self._close()

    def _exchange(self, method, path, data, headers):
        conn = self._connection()
        conn.request(method, self._prefix + path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        if resp.will_close:
            self._close()
        return resp.status, payload

    def _exchange_once_more(self, method, path, data, headers):
        reused = self._conn is not None
        try:
            return self._exchange(method, path, data, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError,
                BrokenPipeError, http.client.BadStatusLine):
            # haid closed the idle connection (or restarted): once more on a new one.
            self._close()
            if not reused:
                raise
            return self._exchange(method, path, data, headers)

    def _call(self, method, what, body=None):
        if not self.configured:
            raise HaiError(
                "not running under hai: HAI_CONTROL_URL, HAI_ATTEMPT_ID and HAI_TASK_TOKEN "
                "must be set")
        path = "/v1/task/%s/%s" % (self.attempt_id, what)
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": "Bearer " + self.token}
        if data is not None:
            headers["Content-Type"] = "application/json"
        with self._lock:
            # Each replica once, starting with the one that answered last: any of them serves
            # these endpoints (they read and write Postgres), so a dead one costs one connect.
            for tried in range(max(1, len(self._urls))):
                try:
                    status, payload = self._exchange_once_more(method, path, data, headers)
                    break
                except (OSError, http.client.HTTPException) as e:
                    self._close()
                    if tried + 1 >= len(self._urls):
                        raise HaiError("%s %s: %s" % (method, what, e)) from None
                    self._at = (self._at + 1) % len(self._urls)
        text = payload.decode(errors="replace")
        if status >= 400:
            detail = text.strip()
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            raise HaiError("%s %s: HTTP %d: %s" % (method, what, status, detail))
        try:
            return json.loads(text or "{}")
        except ValueError as e:
            raise HaiError("%s %s: %s" % (method, what, e)) from None

    def receive_suspend_command(self):
        """True once haid asked this attempt to suspend (or stop); cheap enough per step.

        Once True it stays True. Errors (haid restarting, network) return False and are
        reported once on stderr, so the training step goes on.
        """
        if self._suspend_seen:
            return True
        try:
            reply = self._call("GET", "suspend")
        except HaiError as e:
            if not self._warned:
                print("hai: cannot check for a suspend notice: %s" % e, file=sys.stderr)
                self._warned = True
            return False
        self._suspend_seen = bool(reply.get("suspend"))
        return self._suspend_seen

    def go_suspend(self):
        """Tell the manager the checkpoint is saved: it stops the ranks now instead of
        waiting for the grace period. Raises HaiError when haid refuses."""
        self._call("POST", "go_suspend")

    def get_whole_life_state(self):
        """The chain's whole_life_state: an integer kept across suspensions."""
        return int(self._call("GET", "whole_life_state")["whole_life_state"])

    def set_whole_life_state(self, value):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("whole_life_state must be an int")
        if not -2**31 <= value < 2**31:
            raise ValueError("whole_life_state must fit in 32 bits")
        self._call("POST", "whole_life_state", {"whole_life_state": value})


_default = None


def default_control():
    """The process-wide TaskControl built from the environment."""
    global _default
    if _default is None:
        _default = TaskControl()
    return _default


def receive_suspend_command():
    return default_control().receive_suspend_command()


def go_suspend():
    default_control().go_suspend()


def get_whole_life_state():
    return default_control().get_whole_life_state()


def set_whole_life_state(value):
    default_control().set_whole_life_state(value)
