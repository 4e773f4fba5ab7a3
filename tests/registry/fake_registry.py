#!/usr/bin/env python3
"""fake_registry.py: a small OCI distribution registry for tests of clients,
with switchable misbehaviour. Python 3 standard library only.

It serves, read-only, the content of an OCI image layout (blobs/sha256/<hex>
and index.json, tags from the org.opencontainers.image.ref.name annotation)
under every repository name:

  GET|HEAD /v2/                              200 (or the auth challenge)
  GET|HEAD /v2/<name>/manifests/<tag|digest> the manifest, with its mediaType
  GET|HEAD /v2/<name>/blobs/<digest>         the blob; Range: bytes=N- gives 206
  GET|POST /token                            bearer tokens (when auth is bearer)
  GET      /_redirected/<anything>           what /<anything> serves, without auth
                                             (a CDN a blob redirect points to)

Usage:
  fake_registry.py --root LAYOUT [--port 0] [--port-file F] [--config C.json]
                   [--log LOG.jsonl]

It listens on 127.0.0.1 (port 0: any free one) and writes the port to
--port-file once it accepts connections. Every request is appended to --log
as one JSON object per line: method, path, query, host, authorization (the
header or null), range, status. The config file is read again whenever it
changes (write a temp file and rename it over), so a test can switch
behaviours without a restart; a rule's "times" count starts again then, and
the bearer tokens issued so far are revoked:

{
  "auth": {                        # absent: no authentication
    "scheme": "bearer" | "basic",
    "users": {"alice": "secret"},  # Basic credentials (for /token, or the registry)
    "anonymous": true,             # bearer: /token gives tokens without credentials
    "refresh_tokens": {"rt-1": "alice"},   # identity tokens the POST form accepts
    "expires_in": 300,             # bearer token lifetime, seconds
    "token_response": "garbage"    # /token answers 200 with a body that is not JSON
  },
  "rules": [                       # the first rule whose path (a regex, searched
    {                              # in the URL path) and method match applies
      "path": "/blobs/sha256:ab",
      "method": "GET",             # optional
      "times": 1,                  # optional: only the first N matching requests
      "action": "...",             # see below
      ...                          # the action's parameters
    }
  ]
}

Actions:
  status      answer "status" (e.g. 503, 404) with an optional "body"
  corrupt     the right content with its first byte changed (digest mismatch)
  oversize    a manifest padded with spaces to "size" bytes (default 8 MiB);
              "chunked": true sends no Content-Length
  endless     200 and zeros without end (no Content-Length)
  cut         the full Content-Length, then only "after" bytes and a closed
              connection
  no_range    ignore Range, send 200 and everything
  redirect    307 to "to", where {base} is http://127.0.0.1:PORT, {port} the
              port and {path} the request's path; "loop": true redirects to
              the same path again, forever
  slowloris   headers, then one byte every "interval" seconds (default 1);
              "phase": "headers" trickles the status line and headers instead
  hang        read the request and never answer
  gate        hold the request until the file "file" exists, then serve it
              as usual (a test lets several clients' requests pile up first)
  schema1     a Docker schema 1 manifest (application/vnd.docker.distribution.
              manifest.v1+prettyjws)

The server exits on SIGTERM or SIGINT.
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+prettyjws"

V2_RE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>manifests|blobs)/(?P<ref>[^/]+)$")


class State:
    def __init__(self, root, config_path, log_path):
        self.root = root
        self.config_path = config_path
        self.log_path = log_path
        self.lock = threading.Lock()
        self.config = {}
        self.config_mtime = None
        self.counts = {}
        self.tokens = {}  # token -> expiry (monotonic)
        self.port = 0

    def current_config(self):
        if not self.config_path:
            return {}
        with self.lock:
            try:
                st = os.stat(self.config_path)
            except FileNotFoundError:
                return self.config
            # The inode too: a rename onto the file within one timestamp tick.
            mtime = (st.st_ino, st.st_mtime_ns, st.st_size)
            if mtime != self.config_mtime:
                with open(self.config_path) as f:
                    self.config = json.load(f)
                self.config_mtime = mtime
                self.counts = {}
                self.tokens = {}
            return self.config

    def match_rule(self, method, path):
        for i, rule in enumerate(self.current_config().get("rules", [])):
            if rule.get("method") and rule["method"] != method:
                continue
            if not re.search(rule.get("path", ""), path):
                continue
            with self.lock:
                n = self.counts.get(i, 0)
                if "times" in rule and n >= rule["times"]:
                    continue
                self.counts[i] = n + 1
            return rule
        return None

    def log(self, entry):
        if not self.log_path:
            return
        with self.lock:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def blob_path(self, digest):
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            return None
        p = os.path.join(self.root, "blobs", "sha256", digest[7:])
        return p if os.path.isfile(p) else None

    def index(self):
        try:
            with open(os.path.join(self.root, "index.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"manifests": []}

    def manifest(self, ref):
        """(bytes, media type) of a manifest by tag or digest, or None."""
        desc = None
        for d in self.index().get("manifests", []):
            tag = d.get("annotations", {}).get("org.opencontainers.image.ref.name")
            if ref == tag or ref == d.get("digest"):
                desc = d
                break
        digest = desc["digest"] if desc else ref
        p = self.blob_path(digest)
        if not p:
            return None
        with open(p, "rb") as f:
            data = f.read()
        mt = desc.get("mediaType") if desc else None
        if not mt:
            try:
                mt = json.loads(data).get("mediaType") or OCI_MANIFEST
            except ValueError:
                return None
        return data, mt


def schema1_manifest(name, tag):
    return json.dumps({
        "schemaVersion": 1, "name": name, "tag": tag, "architecture": "amd64",
        "fsLayers": [{"blobSum": "sha256:" + "a" * 64}],
        "history": [{"v1Compatibility": "{}"}],
        "signatures": [],
    }, indent=3).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-registry"
    state = None  # set in main

    def log_message(self, fmt, *args):  # quiet; the JSON log has it all
        pass

    # -- plumbing ----------------------------------------------------------
    def reply(self, status, body=b"", headers=None, head=False):
        self._status = status
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        headers.setdefault("Docker-Distribution-API-Version", "registry/2.0")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def error(self, status, code, message, headers=None):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        self.reply(status, body, h, head=self.command == "HEAD")

    def log_request_once(self, status):
        # Logged before any byte of the response goes out, so a client that
        # has its answer always finds the request in the log.
        if self._logged:
            return
        self._logged = True
        parsed = urllib.parse.urlsplit(self.path)
        self.state.log({
            "method": self.command, "path": parsed.path, "query": parsed.query,
            "host": self.headers.get("Host"), "authorization": self.headers.get("Authorization"),
            "range": self.headers.get("Range"), "status": status,
        })

    def send_response(self, code, message=None):
        self._status = code
        self.log_request_once(code)
        super().send_response(code, message)

    def do_GET(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        parsed = urllib.parse.urlsplit(self.path)
        self._status = None
        self._logged = False
        try:
            self.route(parsed)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            self.log_request_once(self._status)

    # -- auth --------------------------------------------------------------
    def basic_user(self, auth_cfg):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(h[6:]).decode().partition(":")
        except ValueError:
            return None
        if auth_cfg.get("users", {}).get(user) == pw:
            return user
        return None

    def authorized(self, name):
        auth = self.state.current_config().get("auth")
        if not auth:
            return True
        scheme = auth.get("scheme", "bearer")
        if scheme == "basic":
            if self.basic_user(auth):
                return True
            self.error(401, "UNAUTHORIZED", "authentication required",
                       {"WWW-Authenticate": 'Basic realm="fake-registry"'})
            return False
        h = self.headers.get("Authorization", "")
        if h.startswith("Bearer "):
            exp = self.state.tokens.get(h[7:])
            if exp and exp > time.monotonic():
                return True
        realm = "http://127.0.0.1:%d/token" % self.state.port
        challenge = 'Bearer realm="%s",service="fake-registry"' % realm
        if name:
            challenge += ',scope="repository:%s:pull"' % name
        self.error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})
        return False

    def token(self, parsed):
        auth = self.state.current_config().get("auth") or {}
        if auth.get("token_response") == "garbage":
            self.reply(200, b"<html>this is not a token</html>", {"Content-Type": "text/html"})
            return
        user = None
        if self.command == "POST":
            n = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(n).decode())
            if form.get("grant_type") == ["refresh_token"]:
                user = auth.get("refresh_tokens", {}).get(form.get("refresh_token", [""])[0])
            elif form.get("grant_type") == ["password"]:
                u, p = form.get("username", [""])[0], form.get("password", [""])[0]
                user = u if auth.get("users", {}).get(u) == p else None
            if not user:
                self.error(401, "UNAUTHORIZED", "bad grant")
                return
        else:
            if self.headers.get("Authorization"):
                user = self.basic_user(auth)
                if not user:
                    self.error(401, "UNAUTHORIZED", "bad credentials")
                    return
            elif not auth.get("anonymous", False):
                self.error(401, "UNAUTHORIZED", "credentials required")
                return
        expires = int(auth.get("expires_in", 300))
        tok = secrets.token_hex(16)
        self.state.tokens[tok] = time.monotonic() + expires
        body = json.dumps({
            "token": tok, "access_token": tok, "expires_in": expires,
            "issued_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }).encode()
        self.reply(200, body, {"Content-Type": "application/json"})

    # -- routing -----------------------------------------------------------
    def route(self, parsed):
        path = parsed.path
        # Like a real registry, authenticate first (not /token, not the "CDN").
        cdn = path.startswith("/_redirected/")
        if path.startswith("/v2"):
            m = V2_RE.match(path)
            if not self.authorized(m["name"] if m else None):
                return
        rule = self.state.match_rule(self.command, path)
        if rule and self.misbehave(rule, parsed):
            return
        if path == "/token":
            self.token(parsed)
            return
        if cdn:
            path = path[len("/_redirected"):]
        if path in ("/v2", "/v2/"):
            self.reply(200, b"{}", {"Content-Type": "application/json"}, head=self.command == "HEAD")
            return
        m = V2_RE.match(path)
        if not m:
            self.error(404, "NOT_FOUND", "no route")
            return
        if m["kind"] == "manifests":
            found = self.state.manifest(m["ref"])
            if not found:
                self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                return
            data, mt = found
            self.reply(200, data, {"Content-Type": mt, "Docker-Content-Digest": "sha256:" + hashlib.sha256(data).hexdigest()},
                       head=self.command == "HEAD")
        else:
            p = self.state.blob_path(m["ref"])
            if not p:
                self.error(404, "BLOB_UNKNOWN", "blob unknown")
                return
            with open(p, "rb") as f:
                data = f.read()
            self.send_blob(data, honour_range=True)

    def send_blob(self, data, honour_range):
        rng = self.headers.get("Range") if honour_range else None
        start = 0
        if rng:
            mm = re.fullmatch(r"bytes=(\d+)-", rng.strip())
            if mm:
                start = int(mm.group(1))
        if start >= len(data) and start > 0:
            self.reply(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            return
        headers = {"Content-Type": "application/octet-stream"}
        if start:
            headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
            self.reply(206, data[start:], headers, head=self.command == "HEAD")
        else:
            self.reply(200, data, headers, head=self.command == "HEAD")

    def content_for(self, path):
        """The right bytes for a manifest or blob path, or None."""
        m = V2_RE.match(path)
        if not m:
            return None
        if m["kind"] == "manifests":
            found = self.state.manifest(m["ref"])
            return found[0] if found else None
        p = self.state.blob_path(m["ref"])
        if not p:
            return None
        with open(p, "rb") as f:
            return f.read()

    def misbehave(self, rule, parsed):
        """Apply a rule; False means: serve normally after all."""
        action = rule.get("action")
        path = parsed.path
        if action == "status":
            body = rule.get("body", "").encode()
            self.reply(int(rule["status"]), body, {"Content-Type": "application/json"})
        elif action == "corrupt":
            data = self.content_for(path)
            if data is None:
                return False
            bad = bytes([data[0] ^ 0xFF]) + data[1:]
            m = V2_RE.match(path)
            ct = OCI_MANIFEST if m["kind"] == "manifests" else "application/octet-stream"
            if m["kind"] == "manifests":
                found = self.state.manifest(m["ref"])
                ct = found[1]
            self.reply(200, bad, {"Content-Type": ct})
        elif action == "oversize":
            size = int(rule.get("size", 8 << 20))
            head = b'{"schemaVersion":2,"mediaType":"' + OCI_MANIFEST.encode() + b'","padding":"'
            tail = b'"}'
            body = head + b" " * max(0, size - len(head) - len(tail)) + tail
            if rule.get("chunked"):
                self.send_response(200)
                self._status = 200
                self.send_header("Content-Type", OCI_MANIFEST)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, len(body), 65536):
                    part = body[i:i + 65536]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.reply(200, body, {"Content-Type": OCI_MANIFEST})
        elif action == "endless":
            self._status = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"\0" * 65536
            while True:
                self.wfile.write(chunk)
        elif action == "cut":
            data = self.content_for(path)
            if data is None:
                return False
            after = int(rule.get("after", len(data) // 2))
            self._status = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[:after])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif action == "no_range":
            data = self.content_for(path)
            if data is None:
                return False
            self.send_blob(data, honour_range=False)
        elif action == "redirect":
            base = "http://127.0.0.1:%d" % self.state.port
            if rule.get("loop"):
                to = base + path + "?hop=%d" % (int((urllib.parse.parse_qs(parsed.query).get("hop") or ["0"])[0]) + 1)
            else:
                to = rule["to"].replace("{base}", base).replace("{port}", str(self.state.port)).replace("{path}", path)
            self.reply(307, b"", {"Location": to})
        elif action == "slowloris":
            interval = float(rule.get("interval", 1))
            self.close_connection = True
            if rule.get("phase") == "headers":
                self._status = 200
                self.log_request_once(200)
                for ch in b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Slow: " + b"x" * 100000:
                    self.wfile.write(bytes([ch]))
                    self.wfile.flush()
                    time.sleep(interval)
            else:
                self._status = 200
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                self.wfile.flush()
                for _ in range(1000000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(interval)
        elif action == "hang":
            self.close_connection = True
            self.log_request_once(None)
            time.sleep(3600)
        elif action == "gate":
            while not os.path.exists(rule["file"]):
                time.sleep(0.05)
            return False
        elif action == "schema1":
            m = V2_RE.match(path)
            name, ref = (m["name"], m["ref"]) if m else ("x", "latest")
            body = schema1_manifest(name, ref)
            self.reply(200, body, {"Content-Type": SCHEMA1})
        else:
            self.error(500, "BAD_RULE", "unknown action %r" % action)
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="an OCI image layout to serve")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--config")
    ap.add_argument("--log")
    args = ap.parse_args()

    state = State(args.root, args.config, args.log)
    Handler.state = state
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    state.port = srv.server_address[1]
    state.current_config()  # a bad config fails now, not at the first request

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % state.port)
        os.rename(tmp, args.port_file)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
