"""Task control over haid's HTTP side port."""

import json
import os
import sys
import urllib.error
import urllib.request


class HaiError(Exception):
    """A task-control call failed; the message says why (HTTP status and haid's reason)."""


class TaskControl:
    """Client for one attempt's task-control endpoints.

    ``control_url``, ``attempt_id`` and ``token`` default to the pod environment
    (``HAI_CONTROL_URL``, ``HAI_ATTEMPT_ID``, ``HAI_TASK_TOKEN``).
    """

    def __init__(self, control_url=None, attempt_id=None, token=None, timeout=5.0):
        env = os.environ
        self.control_url = (control_url or env.get("HAI_CONTROL_URL", "")).rstrip("/")
        self.attempt_id = str(attempt_id or env.get("HAI_ATTEMPT_ID") or env.get("HAI_TASK_ID", ""))
        self.token = token or env.get("HAI_TASK_TOKEN", "")
        self.timeout = timeout
        self._suspend_seen = False
        self._warned = False

    @property
    def configured(self):
        return bool(self.control_url and self.attempt_id and self.token)

    def _call(self, method, what, body=None):
        if not self.configured:
            raise HaiError(
                "not running under hai: HAI_CONTROL_URL, HAI_ATTEMPT_ID and HAI_TASK_TOKEN "
                "must be set")
        url = "%s/v1/task/%s/%s" % (self.control_url, self.attempt_id, what)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read().decode() or "{}")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace").strip()
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise HaiError("%s %s: HTTP %d: %s" % (method, what, e.code, detail)) from None
        except (urllib.error.URLError, OSError, ValueError) as e:
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
