#!/usr/bin/env python3
"""s3_proxy: an S3 server for the tests, on loopback: moto's server behind a
proxy of ours that

  - verifies every request's SigV4 signature by recomputing it with botocore's
    signer over the request exactly as it arrived (path and query as sent, the
    headers it names as signed) and checks x-amz-content-sha256 against the
    body; a mismatch is answered 403 SignatureDoesNotMatch and never reaches
    moto. (moto's own check rejects correctly signed requests whose query
    values contain '/', so it is not used.)
  - injects faults on request: 503 SlowDown, 500, connection resets, slow
    answers (POST /__proxy__/faults with JSON, see Faults below).

  s3_proxy.py --access-key ID --secret-key SECRET [--token T] [--bucket B]...

Prints "PORT <n>" on stdout when ready, then serves until stdin... until it is
killed (SIGTERM/SIGINT stop moto too). GET /__proxy__/stats answers JSON
counts: verified, rejected, truncated (a client that died mid-body),
injected (by kind), forwarded; in_flight and max_in_flight (requests being
served at once); log (each request's method and path, oldest first).
Exits 3 when botocore or moto is missing (the tests skip and say so).
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import moto  # noqa: F401
except ImportError as e:
    print(f"s3_proxy needs python3 with botocore and moto: {e}", file=sys.stderr)
    sys.exit(3)

LOCK = threading.Lock()
STATS = {"verified": 0, "rejected": 0, "truncated": 0, "forwarded": 0, "injected": {}, "requests": 0,
         "in_flight": 0, "max_in_flight": 0, "log": []}
LOG_MAX = 20000  # "log": "METHOD /path?query" of the requests since the last reset, oldest first
# Faults: "next": [kind, ...] applies to the next requests in order;
# "rate": {kind: probability} to every request after those; "seed".
# "on": {"METHOD suffix": kind} applies once to the first request of that
# method whose path ends with suffix (e.g. {"PUT /_SUCCESS": "lost"}).
# Kinds: "503" (SlowDown), "500" (InternalError), "reset" (connection closed,
# no answer), "slow" (answers after "slow_seconds"), "lost" (the request is
# carried out, then the connection closes without its answer), "pass" (none).
FAULTS = {"next": [], "rate": {}, "slow_seconds": 2.0, "on": {}}
RNG = random.Random(1)
# moto wants some Authorization header (it checks none): for the proxy's own setup requests.
ANY_AUTH = "AWS4-HMAC-SHA256 Credential=setup/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def error_xml(code, message):
    return (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message></Error>").encode()


def pick_fault(method, path):
    if path.startswith("/__proxy__"):
        return None
    with LOCK:
        STATS["requests"] += 1
        for when, kind in list(FAULTS["on"].items()):
            verb, _, suffix = when.partition(" ")
            if verb == method and path.split("?")[0].endswith(suffix):
                del FAULTS["on"][when]
                return kind
        if FAULTS["next"]:
            return FAULTS["next"].pop(0)
        for kind, p in FAULTS["rate"].items():
            if RNG.random() < p:
                return kind
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "s3proxy"

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def verify(self, body):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "no SigV4 Authorization header"
        fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        key_id, date, region, service, _ = fields["Credential"].split("/")
        if key_id != self.server.creds.access_key:
            return "InvalidAccessKeyId"
        signed = fields["SignedHeaders"].split(";")
        for must in ("host", "x-amz-date", "x-amz-content-sha256"):
            if must not in signed:
                return f"{must} is not signed"
        if self.server.creds.token and "x-amz-security-token" not in signed:
            return "x-amz-security-token is not signed"
        sha = self.headers.get("x-amz-content-sha256")
        if sha != "UNSIGNED-PAYLOAD" and sha != hashlib.sha256(body).hexdigest():
            return "x-amz-content-sha256 is not the body's SHA-256"
        headers = {h: self.headers.get(h, "") for h in signed}
        request = AWSRequest(method=self.command, url="http://" + self.headers["Host"] + self.path,
                             headers=headers, data=body)
        request.context["timestamp"] = self.headers["x-amz-date"]
        signer = S3SigV4Auth(self.server.creds, service, region)
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        return None if expected == fields["Signature"] else "SignatureDoesNotMatch"

    def control(self, body):
        if self.command == "GET" and self.path == "/__proxy__/stats":
            with LOCK:
                return self.answer(200, json.dumps(STATS).encode())
        if self.command == "POST" and self.path == "/__proxy__/faults":
            spec = json.loads(body or b"{}") or {}
            with LOCK:
                FAULTS["next"] = list(spec.get("next", []))
                FAULTS["rate"] = dict(spec.get("rate", {}))
                FAULTS["slow_seconds"] = float(spec.get("slow_seconds", 2.0))
                FAULTS["on"] = dict(spec.get("on", {}))
                RNG.seed(spec.get("seed", 1))
                STATS.update({"verified": 0, "rejected": 0, "truncated": 0, "forwarded": 0, "injected": {},
                              "requests": 0, "max_in_flight": STATS["in_flight"], "log": []})
            return self.answer(200, b"{}")
        return self.answer(404, b"")

    def inject(self, kind):
        with LOCK:
            STATS["injected"][kind] = STATS["injected"].get(kind, 0) + 1
        if kind == "503":
            self.answer(503, error_xml("SlowDown", "Please reduce your request rate."))
            return True
        if kind == "500":
            self.answer(500, error_xml("InternalError", "We encountered an internal error. Please try again."))
            return True
        if kind == "reset":
            # The connection dies in the middle of an answer (a closed
            # connection before any answer is re-sent by curl by itself).
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if kind == "slow":
            time.sleep(FAULTS["slow_seconds"])
        return False

    def handle_any(self):
        length = int(self.headers.get("Content-Length", 0) or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            # The client died while sending (a test SIGKILLs fanout in the
            # middle of an upload): no request to verify or answer.
            with LOCK:
                STATS["truncated"] += 1
            self.close_connection = True
            return
        if self.path.startswith("/__proxy__"):
            return self.control(body)
        with LOCK:
            STATS["in_flight"] += 1
            STATS["max_in_flight"] = max(STATS["max_in_flight"], STATS["in_flight"])
            if len(STATS["log"]) < LOG_MAX:
                STATS["log"].append(f"{self.command} {self.path}")
        try:
            self.serve(body)
        finally:
            with LOCK:
                STATS["in_flight"] -= 1

    def serve(self, body):
        fault = pick_fault(self.command, self.path)
        if fault and self.inject(fault):
            return
        problem = self.verify(body)
        if problem:
            with LOCK:
                STATS["rejected"] += 1
                STATS["last_rejected"] = f"{self.command} {self.path}: {problem}"
            code = "InvalidAccessKeyId" if problem == "InvalidAccessKeyId" else "SignatureDoesNotMatch"
            return self.answer(403, error_xml(code, f"The request signature is not valid: {problem}"))
        with LOCK:
            STATS["verified"] += 1
        self.forward(body, answer=fault != "lost")

    def forward(self, body, answer=True):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=60)
        # The Authorization header goes along: moto treats a request without
        # one as anonymous (403 on HEAD and conditional writes).
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        headers["Host"] = f"127.0.0.1:{self.server.upstream}"
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        with LOCK:
            STATS["forwarded"] += 1
        if not answer:  # done upstream; the answer dies on the way back
            conn.close()
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        keep = [(k, v) for k, v in resp.getheaders()
                if k.lower() not in ("connection", "transfer-encoding", "server", "date")]
        if self.command == "HEAD":
            self.answer(resp.status, b"", keep)
        else:
            keep = [(k, v) for k, v in keep if k.lower() != "content-length"]
            self.answer(resp.status, data, keep)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


def start_moto():
    port = free_port()
    env = dict(os.environ)
    env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    for _ in range(300):
        if proc.poll() is not None:
            print("moto's server did not start", file=sys.stderr)
            sys.exit(3)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    print("moto's server did not open its port within 15 s", file=sys.stderr)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    ap.add_argument("--token", default="")
    ap.add_argument("--bucket", action="append", default=[])
    args = ap.parse_args()
    moto_proc, upstream = start_moto()

    def stop(*_):
        moto_proc.terminate()
        try:
            moto_proc.wait(5)
        except subprocess.TimeoutExpired:
            moto_proc.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # A test that crashed never stops us: stop when the parent is gone.
    def watch_parent(parent=os.getppid()):
        while os.getppid() == parent:
            time.sleep(0.5)
        stop()

    threading.Thread(target=watch_parent, daemon=True).start()
    for bucket in args.bucket:
        conn = http.client.HTTPConnection("127.0.0.1", upstream, timeout=30)
        conn.request("PUT", "/" + bucket, headers={"Authorization": ANY_AUTH})
        conn.getresponse().read()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.creds = Credentials(args.access_key, args.secret_key, args.token or None)
    server.upstream = upstream
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        stop()


if __name__ == "__main__":
    main()
