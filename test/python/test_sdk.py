"""Unit tests of the in-task SDK against a stdlib HTTP fake of haid's task-control endpoints.

The fake checks what the real server checks (path, method, bearer token, JSON body), so a
wrong URL or header fails here, not only in the e2e scenario.
"""

import http.server
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))

import hai  # noqa: E402
from hai.client import HaiError, TaskControl  # noqa: E402

TOKEN = "tok-123"
ATTEMPT = "42"


class FakeHaid(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1 keep-alive like haid: a client may send many requests on one connection.
    protocol_version = "HTTP/1.1"
    state = {"suspend": False, "go_suspend": 0, "life": 7, "calls": [], "connections": 0,
             "close_next": False}

    def setup(self):
        super().setup()
        FakeHaid.state["connections"] += 1  # one handler per accepted TCP connection

    def log_message(self, *args):
        pass

    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if FakeHaid.state["close_next"]:
            FakeHaid.state["close_next"] = False
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method):
        st = FakeHaid.state
        st["calls"].append((method, self.path))
        if self.headers.get("Authorization") != "Bearer " + TOKEN:
            return self._reply(401, {"error": "task token does not match"})
        prefix = "/v1/task/%s/" % ATTEMPT
        if not self.path.startswith(prefix):
            return self._reply(404, {"error": "no such task"})
        what = self.path[len(prefix):]
        if method == "GET" and what == "suspend":
            return self._reply(200, {"suspend": st["suspend"], "reason": "preempted"})
        if method == "POST" and what == "go_suspend":
            st["go_suspend"] += 1
            return self._reply(200, {"ok": True})
        if what == "whole_life_state" and method == "GET":
            return self._reply(200, {"whole_life_state": st["life"]})
        if what == "whole_life_state" and method == "POST":
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            st["life"] = body["whole_life_state"]
            return self._reply(200, body)
        return self._reply(404, {"error": "no route"})

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")


class IdleClosingHaid(FakeHaid):
    timeout = 0.2  # an idle connection is closed after 0.2 s


class SdkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHaid)
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = "http://127.0.0.1:%d" % cls.server.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        FakeHaid.state.update(suspend=False, go_suspend=0, life=7, calls=[], connections=0,
                              close_next=False)
        self.control = TaskControl(self.url, ATTEMPT, TOKEN)

    def tearDown(self):
        self.control.close()

    def test_suspend_notice_is_seen_and_sticks(self):
        self.assertFalse(self.control.receive_suspend_command())
        FakeHaid.state["suspend"] = True
        self.assertTrue(self.control.receive_suspend_command())
        FakeHaid.state["suspend"] = False
        self.assertTrue(self.control.receive_suspend_command())  # cached, no flapping
        self.assertEqual(FakeHaid.state["calls"][0], ("GET", "/v1/task/42/suspend"))

    def test_go_suspend_posts_once(self):
        self.control.go_suspend()
        self.assertEqual(FakeHaid.state["go_suspend"], 1)
        self.assertIn(("POST", "/v1/task/42/go_suspend"), FakeHaid.state["calls"])

    def test_whole_life_state_round_trip(self):
        self.assertEqual(self.control.get_whole_life_state(), 7)
        self.control.set_whole_life_state(12)
        self.assertEqual(FakeHaid.state["life"], 12)
        self.assertEqual(self.control.get_whole_life_state(), 12)
        with self.assertRaises(ValueError):
            self.control.set_whole_life_state(2**40)
        with self.assertRaises(TypeError):
            self.control.set_whole_life_state("3")

    def test_polls_reuse_one_connection(self):
        for _ in range(20):
            self.assertFalse(self.control.receive_suspend_command())
        self.assertEqual(self.control.get_whole_life_state(), 7)
        self.control.set_whole_life_state(8)
        self.assertEqual(len(FakeHaid.state["calls"]), 22)
        self.assertEqual(FakeHaid.state["connections"], 1)

    def test_connection_closed_by_haid_is_reopened(self):
        self.assertFalse(self.control.receive_suspend_command())
        FakeHaid.state["close_next"] = True  # "Connection: close" on the next reply
        self.assertFalse(self.control.receive_suspend_command())
        self.assertFalse(self.control.receive_suspend_command())
        self.assertEqual(FakeHaid.state["connections"], 2)

    def test_idle_connection_dropped_by_haid_is_retried(self):
        # haid closes idle keep-alive connections (server.http_idle_timeout_s) without a word;
        # the next call finds the socket closed and goes again on a new connection.
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), IdleClosingHaid)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            control = TaskControl("http://127.0.0.1:%d" % server.server_address[1], ATTEMPT,
                                  TOKEN)
            self.assertEqual(control.get_whole_life_state(), 7)
            time.sleep(0.5)  # the server dropped the connection meanwhile
            self.assertEqual(control.get_whole_life_state(), 7)
            self.assertEqual(FakeHaid.state["connections"], 2)
        finally:
            control.close()
            server.shutdown()
            server.server_close()

    def test_wrong_token_raises_with_haids_reason(self):
        bad = TaskControl(self.url, ATTEMPT, "nope")
        with self.assertRaises(HaiError) as ctx:
            bad.go_suspend()
        bad.close()
        self.assertIn("401", str(ctx.exception))
        self.assertIn("task token does not match", str(ctx.exception))

    def test_unreachable_haid_never_raises_from_the_poll(self):
        down = TaskControl("http://127.0.0.1:1", ATTEMPT, TOKEN, timeout=0.5)
        self.assertFalse(down.receive_suspend_command())
        with self.assertRaises(HaiError):
            down.get_whole_life_state()

    def test_fails_over_to_the_next_replica_and_stays_there(self):
        # A dead replica first in HAI_CONTROL_URL (nothing listens on port 1): the call goes
        # to the next one, and later calls start there instead of paying the dead connect.
        control = TaskControl("http://127.0.0.1:1, %s/" % self.url, ATTEMPT, TOKEN, timeout=0.5)
        try:
            self.assertEqual(control.get_whole_life_state(), 7)
            self.assertFalse(control.receive_suspend_command())
            self.assertEqual(FakeHaid.state["connections"], 1)
            self.assertEqual(len(FakeHaid.state["calls"]), 2)
        finally:
            control.close()

    def test_every_replica_down_raises(self):
        down = TaskControl("http://127.0.0.1:1,http://127.0.0.1:2", ATTEMPT, TOKEN, timeout=0.5)
        with self.assertRaises(HaiError):
            down.get_whole_life_state()
        self.assertFalse(down.receive_suspend_command())

    def test_not_under_hai_is_a_clear_error(self):
        with self.assertRaises(HaiError) as ctx:
            TaskControl("", "", "").go_suspend()
        self.assertIn("not running under hai", str(ctx.exception))

    def test_environment_defaults(self):
        env = {"HAI_CONTROL_URL": self.url, "HAI_ATTEMPT_ID": ATTEMPT, "HAI_TASK_TOKEN": TOKEN,
               "RANK": "1", "WORLD_SIZE": "4", "HAI_CHAIN_ID": "9", "HAI_NODE": "node-3"}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            hai.client._default = None
            self.assertEqual(hai.rank(), 1)
            self.assertEqual(hai.world_size(), 4)
            self.assertFalse(hai.is_rank0())
            self.assertEqual(hai.task_id(), 9)
            self.assertEqual(hai.local_node(), "node-3")
            self.assertEqual(hai.get_whole_life_state(), 7)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            hai.client.default_control().close()
            hai.client._default = None


if __name__ == "__main__":
    unittest.main()
