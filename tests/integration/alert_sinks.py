#!/usr/bin/env python3
"""Test servers for test_alerts.sh: a minimal SMTP sink and an HTTP listener.

    alert_sinks.py smtp DIR   -- answers EHLO/HELO/AUTH PLAIN/MAIL/RCPT/DATA/RSET/NOOP/QUIT;
                                 each message goes to DIR/N.eml, its envelope to DIR/N.env,
                                 AUTH PLAIN credentials (decoded) to DIR/auth
    alert_sinks.py http DIR   -- each POST body goes to DIR/N.json, its headers to DIR/N.hdr;
                                 answers with the status code in DIR/status (default 200)

    alert_sinks.py blackhole DIR -- accepts connections and never answers (a hung server)

All listen on 127.0.0.1 port 0 and write the port chosen to DIR/port once ready.
"""
import base64
import http.server
import os
import socketserver
import sys
import threading

DIR = sys.argv[2]
LOCK = threading.Lock()
COUNT = [0]


def next_name():
    with LOCK:
        COUNT[0] += 1
        return os.path.join(DIR, str(COUNT[0]))


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


class SMTPHandler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 sink ESMTP test")
        mail_from, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").rstrip("\r\n")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-sink\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n")
                self.wfile.flush()
            elif verb == "HELO":
                self.reply("250 sink")
            elif verb == "AUTH":
                parts = cmd.split()
                if len(parts) >= 3:
                    blob = parts[2]
                else:
                    self.reply("334 ")
                    blob = self.rfile.readline().decode().strip()
                fields = base64.b64decode(blob).split(b"\0")
                write(os.path.join(DIR, "auth"), b"\n".join(fields[1:]) + b"\n")
                self.reply("235 2.7.0 accepted")
            elif verb == "MAIL":
                mail_from, rcpts = cmd[10:].strip(), []
                self.reply("250 ok")
            elif verb == "RCPT":
                rcpts.append(cmd[8:].strip())
                self.reply("250 ok")
            elif verb == "DATA":
                self.reply("354 go on")
                lines = []
                while True:
                    l = self.rfile.readline()
                    if not l or l == b".\r\n":
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    lines.append(l)
                name = next_name()
                env = "from %s\n" % mail_from + "".join("rcpt %s\n" % r for r in rcpts)
                write(name + ".env", env.encode())
                write(name + ".eml", b"".join(lines))
                self.reply("250 queued")
            elif verb in ("RSET", "NOOP"):
                self.reply("250 ok")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 unknown")


class HTTPHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        name = next_name()
        write(name + ".hdr", str(self.headers).encode())
        write(name + ".path", self.path.encode())
        write(name + ".json", body)
        try:
            with open(os.path.join(DIR, "status")) as f:
                status = int(f.read().strip() or 200)
        except FileNotFoundError:
            status = 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class Blackhole(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(1 << 16)  # until the client gives up
        threading.Event().wait(120)


if sys.argv[1] == "smtp":
    srv = Server(("127.0.0.1", 0), SMTPHandler)
elif sys.argv[1] == "blackhole":
    srv = Server(("127.0.0.1", 0), Blackhole)
else:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HTTPHandler)
write(os.path.join(DIR, "port"), str(srv.server_address[1]).encode())
srv.serve_forever()
