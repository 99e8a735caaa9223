#!/usr/bin/env python3
"""A git server over HTTP on 127.0.0.1 for the tests: `git http-backend`
behind Basic authentication, or a listener that accepts and never answers.

usage: git-http.py PORTFILE ROOT USER:PASSWORD...   serve ROOT's repositories
       git-http.py PORTFILE --silent                 accept, never answer
The port it listens on is written to PORTFILE once it listens.
"""
import base64, http.server, os, socket, subprocess, sys, time

portfile = sys.argv[1]
if sys.argv[2] == "--silent":
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    open(portfile, "w").write(str(s.getsockname()[1]))
    held = []
    while True:
        conn, _ = s.accept()
        held.append(conn)  # never read, never answered, never closed

root = sys.argv[2]
allowed = {"Basic " + base64.b64encode(p.encode()).decode(): p.split(":")[0] for p in sys.argv[3:]}


class Git(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def serve(self):
        data = self.body()
        user = allowed.get(self.headers.get("Authorization", ""))
        if not user:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="audit"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {"GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
               "REQUEST_METHOD": self.command, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(data)), "REMOTE_USER": user, "REMOTE_ADDR": "127.0.0.1",
               "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        out = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.split(b"\r\n"):
            k, _, v = line.decode().partition(":")
            if k.lower() == "status":
                status = int(v.split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = serve
    do_POST = serve


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Git)
open(portfile, "w").write(str(server.server_address[1]))
server.serve_forever()
