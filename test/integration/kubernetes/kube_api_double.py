#!/usr/bin/env python3
"""A stand-in for a Kubernetes API server, for hai's tests (stdlib only).

It implements the endpoints the Kubernetes runtime uses, with Kubernetes semantics:
  pods, services, configmaps and secrets in namespaces: create (201, 409 AlreadyExists; a Service
  that is not headless gets spec.clusterIP, --cluster-ip, 127.0.0.1 by default, so what
  the runtime polls there reaches the local process), get (404), list with
  labelSelector (equality terms) and a resourceVersion, watch (ADDED/MODIFIED/DELETED and
  BOOKMARK events from a resourceVersion; ERROR 410 Expired when it is older than the kept
  history), delete with DeleteOptions (gracePeriodSeconds, preconditions.uid -> 409), and the
  pod log (follow, timestamps, sinceTime; 400 while the container is waiting).
It also "runs" pods: a pod scheduled to a known node starts its container command as a local
process (its env, workingDir), which gives real exit codes, real SIGTERM on a graceful delete
and SIGKILL when the grace ends. Volumes are stood in for by local directories: a hostPath is
that path (made when DirectoryOrCreate), a persistentVolumeClaim a directory per claim under
--state-dir, a configMap a directory holding its keys as files, an emptyDir a directory per
pod (removed with the pod; /dev/shm is left alone); subPath is a directory inside. Since a
process cannot see another filesystem, a mountPath at the start of the command's arguments,
env values or workingDir (or after a '=') is rewritten to its stand-in. Images named "missing/..." never pull (ErrImagePull then
ImagePullBackOff), and nodes listed by --unschedulable-node (or POST /_double/unschedulable)
leave pods Pending with PodScheduled=False/Unschedulable.
Bearer-token auth (--token), HTTPS (--cert/--key) and client certificates (--client-ca) are
optional. Test controls under /_double/: inject failures, expire watches, read the request log.

Prints "port N" on stdout once listening (on --port, 0 = a free loopback port).
"""
import argparse
import base64
import copy
import datetime
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

LOCK = threading.Condition()
STATE = {
    "rv": 100,
    "objects": {},  # (kind, ns, name) -> object
    "history": [],  # (rv, kind, ns, event type, object)
    "history_floor": 100,  # watches from an older resourceVersion get 410
    "procs": {},  # (ns, name) -> Popen
    "logs": {},  # (ns, name) -> [(ts_ns, bytes, starts_line, ends_line)]: lines in pieces
    "failures": [],  # [{"method", "path", "code", "count"}]
    "requests": [],  # [(method, path, query)]
    "unschedulable": set(),
    "watch_epoch": 0,  # bumped to end every open watch with 410
}
ARGS = None


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_nano(ns):
    secs, frac = divmod(ns, 1_000_000_000)
    base = datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)
    return base.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % frac


def parse_time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp() * 1e9


def status_obj(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def bump(kind, ns, etype, obj):
    """Records a change (caller holds LOCK): new resourceVersion, history entry, wake watchers."""
    STATE["rv"] += 1
    obj["metadata"]["resourceVersion"] = str(STATE["rv"])
    STATE["history"].append((STATE["rv"], kind, ns, etype, copy.deepcopy(obj)))
    LOCK.notify_all()


def matches(obj, selector):
    if not selector:
        return True
    labels = obj["metadata"].get("labels", {})
    for term in selector.split(","):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.split("=", 1)
            if labels.get(k.rstrip("=")) != v:
                return False
        elif labels.get(term) is None:
            return False
    return True


# ------------------------------------------------------------------------------ pod "kubelet"

def set_pod_status(pod, **status):
    pod["status"].update(status)


def container_status(pod, state, ready=False):
    c = pod["spec"]["containers"][0]
    return [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": ready,
             "restartCount": 0, "started": "running" in state, "state": state}]


def schedule(ns, name):
    """Decides what happens to a new pod (runs in its own thread)."""
    time.sleep(0.05)
    with LOCK:
        pod = STATE["objects"].get(("pods", ns, name))
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        node = pod["spec"].get("nodeSelector", {}).get("kubernetes.io/hostname", "")
        if node in STATE["unschedulable"]:
            set_pod_status(pod, conditions=[{
                "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                "lastTransitionTime": now_rfc3339(),
                "message": "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."}])
            bump("pods", ns, "MODIFIED", pod)
            return
        pod["spec"]["nodeName"] = node
        set_pod_status(pod, conditions=[{"type": "PodScheduled", "status": "True",
                                         "lastTransitionTime": now_rfc3339()}],
                       hostIP="127.0.0.1", podIP="127.0.0.1")
        image = pod["spec"]["containers"][0].get("image", "")
        if image.startswith("missing/"):
            set_pod_status(pod, containerStatuses=container_status(pod, {"waiting": {
                "reason": "ErrImagePull",
                "message": 'rpc error: failed to pull image "%s": not found' % image}}))
            bump("pods", ns, "MODIFIED", pod)
            threading.Thread(target=backoff, args=(ns, name), daemon=True).start()
            return
        start_container(ns, name, pod)


def backoff(ns, name):
    time.sleep(0.3)
    with LOCK:
        pod = STATE["objects"].get(("pods", ns, name))
        if pod is None:
            return
        set_pod_status(pod, containerStatuses=container_status(pod, {"waiting": {
            "reason": "ImagePullBackOff", "message": "Back-off pulling image"}}))
        bump("pods", ns, "MODIFIED", pod)


def pod_dir(ns, name):
    return os.path.join(ARGS.state_dir, "pods", ns, name)


def volume_paths(ns, name, pod):
    """[(mountPath, local directory)] standing in for the container's volumes (caller holds
    LOCK), longest mountPath first."""
    c = pod["spec"]["containers"][0]
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    out = []
    for m in c.get("volumeMounts", []):
        v = volumes.get(m["name"])
        if v is None:
            continue
        if "hostPath" in v:
            local = v["hostPath"]["path"]
            if v["hostPath"].get("type") == "DirectoryOrCreate":
                os.makedirs(local, exist_ok=True)
        elif "persistentVolumeClaim" in v:
            local = os.path.join(ARGS.state_dir, "pvc", ns, v["persistentVolumeClaim"]["claimName"])
            os.makedirs(local, exist_ok=True)
        elif "configMap" in v:
            cm = STATE["objects"].get(("configmaps", ns, v["configMap"]["name"]))
            if cm is None:
                continue
            local = os.path.join(pod_dir(ns, name), m["name"])
            os.makedirs(local, exist_ok=True)
            for key, value in (cm.get("data") or {}).items():
                path = os.path.join(local, key)
                with open(path, "w") as f:
                    f.write(value)
                os.chmod(path, v["configMap"].get("defaultMode", 0o644))
        elif "emptyDir" in v:
            if m["mountPath"] == "/dev/shm":
                continue
            local = os.path.join(pod_dir(ns, name), m["name"])
            os.makedirs(local, exist_ok=True)
        else:
            continue
        if m.get("subPath"):
            local = os.path.join(local, m["subPath"])
            os.makedirs(local, exist_ok=True)  # the kubelet creates a missing subPath
        if local != m["mountPath"]:
            out.append((m["mountPath"].rstrip("/"), local))
    out.sort(key=lambda p: -len(p[0]))
    return out


def rewrite(text, paths):
    if not paths:
        return text
    local = dict(paths)
    pattern = r"(^|=)(" + "|".join(re.escape(mp) for mp, _ in paths) + r")(?=/|$)"
    return re.sub(pattern, lambda mo: mo.group(1) + local[mo.group(2)], text)


def start_container(ns, name, pod):
    """Starts the container command (caller holds LOCK)."""
    c = pod["spec"]["containers"][0]
    paths = volume_paths(ns, name, pod)
    argv = [rewrite(a, paths) for a in list(c.get("command", [])) + list(c.get("args", []))]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    for e in c.get("env", []):
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref is not None:
            # As the kubelet: the Secret's key at container start; missing -> the container
            # cannot be created.
            secret = STATE["objects"].get(("secrets", ns, ref["name"]))
            data = (secret or {}).get("data") or {}
            if ref["key"] not in data:
                set_pod_status(pod, phase="Pending", containerStatuses=container_status(pod, {
                    "waiting": {"reason": "CreateContainerConfigError",
                                "message": 'secret "%s" not found' % ref["name"]}}))
                bump("pods", ns, "MODIFIED", pod)
                return
            env[e["name"]] = base64.b64decode(data[ref["key"]]).decode()
            continue
        env[e["name"]] = rewrite(e.get("value", ""), paths)
    try:
        proc = subprocess.Popen(argv, env=env, cwd=rewrite(c.get("workingDir") or "/", paths),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as err:
        set_pod_status(pod, phase="Failed", containerStatuses=container_status(pod, {
            "terminated": {"exitCode": 128, "reason": "StartError", "message": str(err)}}))
        bump("pods", ns, "MODIFIED", pod)
        return
    STATE["procs"][(ns, name)] = proc
    STATE["logs"][(ns, name)] = []
    set_pod_status(pod, phase="Running", startTime=now_rfc3339(),
                   containerStatuses=container_status(pod, {"running": {
                       "startedAt": now_rfc3339()}}, ready=True))
    bump("pods", ns, "MODIFIED", pod)
    threading.Thread(target=pump, args=(ns, name, proc), daemon=True).start()


def pump(ns, name, proc):
    # Reads the output in pieces, not lines: a process writing without newlines (tqdm's '\r'
    # progress) makes one endless line, served to the log API as it comes, like a kubelet.
    # A line's pieces keep its first piece's timestamp.
    fd = proc.stdout.fileno()
    at_start, line_ts = True, 0
    while True:
        data = os.read(fd, 1 << 16)
        if not data:
            break
        pieces = []
        while data:
            nl = data.find(b"\n")
            part, ends = (data, False) if nl < 0 else (data[:nl], True)
            data = b"" if nl < 0 else data[nl + 1:]
            if at_start:
                line_ts = time.time_ns()
            pieces.append((line_ts, part, at_start, ends))
            at_start = ends
        with LOCK:
            STATE["logs"][(ns, name)].extend(pieces)
            LOCK.notify_all()
    code = proc.wait()
    exit_code = code if code >= 0 else 128 - code
    with LOCK:
        STATE["procs"].pop((ns, name), None)
        pod = STATE["objects"].get(("pods", ns, name))
        if pod is None:
            return
        set_pod_status(pod, phase="Succeeded" if exit_code == 0 else "Failed",
                       containerStatuses=container_status(pod, {"terminated": {
                           "exitCode": exit_code, "reason": "Completed" if exit_code == 0
                           else "Error", "finishedAt": now_rfc3339()}}))
        bump("pods", ns, "MODIFIED", pod)
        if pod["metadata"].get("deletionTimestamp"):
            remove(ns, name)


def remove(ns, name):
    """Removes a pod object (caller holds LOCK)."""
    pod = STATE["objects"].pop(("pods", ns, name), None)
    if pod is not None:
        bump("pods", ns, "DELETED", pod)
    shutil.rmtree(pod_dir(ns, name), ignore_errors=True)


def graceful_delete(ns, name, grace):
    with LOCK:
        pod = STATE["objects"].get(("pods", ns, name))
        proc = STATE["procs"].get((ns, name))
        if pod is None:
            return
        if pod["metadata"].get("deletionTimestamp"):
            # Already terminating: a shorter grace wins, as in Kubernetes.
            if grace >= pod["metadata"].get("deletionGracePeriodSeconds", grace):
                return
        pod["metadata"]["deletionTimestamp"] = now_rfc3339()
        pod["metadata"]["deletionGracePeriodSeconds"] = grace
        bump("pods", ns, "MODIFIED", pod)
        if proc is None:
            remove(ns, name)
            return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass

    def killer():
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    threading.Thread(target=killer, daemon=True).start()


# ------------------------------------------------------------------------------ HTTP

ROUTE = re.compile(
    r"^/api/v1/namespaces/([^/]+)/(pods|services|configmaps|secrets)(?:/([^/]+))?(?:/(log))?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if ARGS.verbose:
            sys.stderr.write("double: " + (fmt % args) + "\n")

    def reply(self, code, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def fail(self, code, reason, message):
        self.reply(code, status_obj(code, reason, message))

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n == 0:
            return None
        return json.loads(self.rfile.read(n))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PUT(self):
        self.dispatch("PUT")

    def dispatch(self, method):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path.startswith("/_double/"):
            return self.control(method, url.path[len("/_double/"):], query)
        body = self.body() if method in ("POST", "PUT", "DELETE") else None
        with LOCK:
            # A copy: create fills in the stored object (uid, clusterIP, status), and the log
            # must show what the client sent.
            STATE["requests"].append({"method": method, "path": url.path, "query": query,
                                      "body": copy.deepcopy(body)})
            for f in STATE["failures"]:
                if f["count"] > 0 and f["method"] in (method, "*") and re.search(
                        f["path"], url.path):
                    f["count"] -= 1
                    headers = {"Retry-After": "0"} if f["code"] == 429 else None
                    return self.reply(f["code"], status_obj(
                        f["code"], f.get("reason", "InternalError"), "injected failure"), headers)
        if ARGS.token and self.headers.get("Authorization") != "Bearer " + ARGS.token:
            return self.fail(401, "Unauthorized", "Unauthorized")
        m = ROUTE.match(url.path)
        if not m:
            return self.fail(404, "NotFound", "the server could not find the requested resource")
        ns, kind, name, sub = m.groups()
        if ARGS.forbidden_namespace and ns == ARGS.forbidden_namespace:
            return self.fail(403, "Forbidden", '%s is forbidden: User "system:serviceaccount:'
                             'hai:haid" cannot %s resource "%s" in namespace "%s"'
                             % (kind, method.lower(), kind, ns))
        if sub == "log":
            return self.pod_log(ns, name, query)
        if method == "POST" and not name:
            return self.create(ns, kind, body)
        if method == "GET" and name:
            with LOCK:
                obj = STATE["objects"].get((kind, ns, name))
                if obj is None:
                    return self.fail(404, "NotFound", '%s "%s" not found' % (kind, name))
                return self.reply(200, obj)
        if method == "GET" and query.get("watch") in ("1", "true"):
            return self.watch(ns, kind, query)
        if method == "GET":
            with LOCK:
                items = [o for (k, n, _), o in sorted(STATE["objects"].items())
                         if k == kind and n == ns and matches(o, query.get("labelSelector"))]
                list_kind = {"pods": "PodList", "services": "ServiceList",
                             "configmaps": "ConfigMapList", "secrets": "SecretList"}[kind]
                return self.reply(200, {"kind": list_kind,
                                        "apiVersion": "v1",
                                        "metadata": {"resourceVersion": str(STATE["rv"])},
                                        "items": items})
        if method == "DELETE" and name:
            return self.delete(ns, kind, name, body or {}, query)
        return self.fail(405, "MethodNotAllowed", "method not allowed")

    def create(self, ns, kind, obj):
        if not isinstance(obj, dict) or "metadata" not in obj or not obj["metadata"].get("name"):
            return self.fail(422, "Invalid", "metadata.name: Required value")
        name = obj["metadata"]["name"]
        with LOCK:
            if (kind, ns, name) in STATE["objects"]:
                return self.fail(409, "AlreadyExists", '%s "%s" already exists' % (kind, name))
            obj["metadata"].update(namespace=ns, uid=str(uuid.uuid4()),
                                   creationTimestamp=now_rfc3339())
            if kind == "pods":
                obj["status"] = {"phase": "Pending"}
            if kind == "services":
                spec = obj.setdefault("spec", {})
                if not spec.get("clusterIP"):
                    spec["clusterIP"] = ARGS.cluster_ip
            STATE["objects"][(kind, ns, name)] = obj
            bump(kind, ns, "ADDED", obj)
            out = copy.deepcopy(obj)
        if kind == "pods":
            threading.Thread(target=schedule, args=(ns, name), daemon=True).start()
        return self.reply(201, out)

    def delete(self, ns, kind, name, opts, query):
        with LOCK:
            obj = STATE["objects"].get((kind, ns, name))
            if obj is None:
                return self.fail(404, "NotFound", '%s "%s" not found' % (kind, name))
            want_uid = (opts.get("preconditions") or {}).get("uid")
            if want_uid and want_uid != obj["metadata"]["uid"]:
                return self.fail(409, "Conflict", "Precondition failed: UID in precondition: "
                                 "%s, UID in object meta: %s" % (want_uid, obj["metadata"]["uid"]))
            out = copy.deepcopy(obj)
            if kind in ("services", "configmaps", "secrets"):
                STATE["objects"].pop((kind, ns, name))
                bump(kind, ns, "DELETED", obj)
                return self.reply(200, out)
        grace = opts.get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
        if grace is None:
            grace = out["spec"].get("terminationGracePeriodSeconds", 30)
        graceful_delete(ns, name, int(grace))
        return self.reply(200, out)

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def watch(self, ns, kind, query):
        selector = query.get("labelSelector")
        since = int(query.get("resourceVersion") or 0)
        deadline = time.time() + int(query.get("timeoutSeconds") or 1800)
        self.start_stream()
        try:
            with LOCK:
                epoch = STATE["watch_epoch"]
                floor = STATE["history_floor"]
            if since < floor:
                self.chunk(json.dumps({"type": "ERROR", "object": status_obj(
                    410, "Expired", "too old resource version: %d (%d)" % (since, floor))
                }).encode() + b"\n")
                self.end_stream()
                return
            sent = since
            while time.time() < deadline:
                # Events are collected under the lock and written without it, so a slow or
                # dead client never stalls the rest of the server.
                with LOCK:
                    expired = STATE["watch_epoch"] != epoch
                    events = [(etype, obj) for rv, k, n, etype, obj in STATE["history"]
                              if rv > sent and k == kind and n == ns and matches(obj, selector)]
                    sent = STATE["rv"]
                    if not events and not expired:
                        LOCK.wait(timeout=0.2)
                if expired:
                    self.chunk(json.dumps({"type": "ERROR", "object": status_obj(
                        410, "Expired", "watch expired")}).encode() + b"\n")
                    break
                for etype, obj in events:
                    self.chunk(json.dumps({"type": etype, "object": obj}).encode() + b"\n")
            self.end_stream()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def pod_log(self, ns, name, query):
        with LOCK:
            pod = STATE["objects"].get(("pods", ns, name))
            if pod is None:
                return self.fail(404, "NotFound", 'pods "%s" not found' % name)
            if (ns, name) not in STATE["logs"]:
                return self.fail(400, "BadRequest", 'container "task" in pod "%s" is waiting to '
                                 'start: ContainerCreating' % name)
        follow = query.get("follow") in ("true", "1")
        stamps = query.get("timestamps") in ("true", "1")
        since = parse_time(query["sinceTime"]) if "sinceTime" in query else 0
        self.start_stream()
        sent = 0
        try:
            while True:
                with LOCK:
                    lines = STATE["logs"].get((ns, name), [])
                    batch = lines[sent:]
                    sent = len(lines)
                    running = (ns, name) in STATE["procs"]
                    if not batch and follow and running:
                        LOCK.wait(timeout=0.2)
                        continue
                out, size = [], 0
                for ts, part, starts, ends in batch:
                    if ts < since:
                        continue
                    if starts and stamps:
                        out.append(ts_nano(ts).encode() + b" ")
                    out.append(part + (b"\n" if ends else b""))
                    size += len(out[-1])
                    if size >= 1 << 20:
                        self.chunk(b"".join(out))
                        out, size = [], 0
                if out:
                    self.chunk(b"".join(out))
                if not follow or not running:
                    break
            self.end_stream()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def control(self, method, what, query):
        body = self.body() if method == "POST" else None
        with LOCK:
            if what == "fail":  # {"method", "path" (regex), "code", "count", "reason"}
                STATE["failures"].append(body)
                return self.reply(200, {})
            if what == "clear-failures":
                STATE["failures"] = []
                return self.reply(200, {})
            if what == "expire-watches":  # compacts history and ends open watches with 410
                STATE["history_floor"] = STATE["rv"] + 1
                STATE["history"] = []
                STATE["watch_epoch"] += 1
                LOCK.notify_all()
                return self.reply(200, {})
            if what == "unschedulable":  # {"node": name}
                STATE["unschedulable"].add(body["node"])
                return self.reply(200, {})
            if what == "requests":
                return self.reply(200, STATE["requests"])
            if what == "objects":
                return self.reply(200, [o for _, o in sorted(STATE["objects"].items())])
            if what == "procs":  # running container processes: "<ns>/<pod>" -> pid
                return self.reply(200, {"%s/%s" % k: p.pid for k, p in STATE["procs"].items()})
        return self.reply(404, {})


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--token", default="")
    p.add_argument("--cert", default="")
    p.add_argument("--key", default="")
    p.add_argument("--client-ca", default="")
    p.add_argument("--forbidden-namespace", default="")
    p.add_argument("--unschedulable-node", action="append", default=[])
    p.add_argument("--cluster-ip", default="127.0.0.1")
    p.add_argument("--state-dir", default="")  # volume stand-ins; "" = a temporary directory
    p.add_argument("--verbose", action="store_true")
    ARGS = p.parse_args()
    temporary = not ARGS.state_dir
    if temporary:
        ARGS.state_dir = tempfile.mkdtemp(prefix="kube-double-")
    STATE["unschedulable"].update(ARGS.unschedulable_node)
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    if ARGS.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
        if ARGS.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(ARGS.client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("port %d" % server.server_address[1], flush=True)

    def stop(*_):
        with LOCK:
            for proc in STATE["procs"].values():
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if temporary:
            shutil.rmtree(ARGS.state_dir, ignore_errors=True)
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
