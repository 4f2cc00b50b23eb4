#!/usr/bin/env python3
"""Switch simulators for the switch driver's tests (standard library only).

One dialog file per model (tests/sim/dialogs/MODEL.json) describes what the
device says: a login script (banner, prompts, what it wants to read), the
command prompt, the command -> output map, its pager. The simulator replays
it over:

  telnet  a threaded TCP server speaking the little telnet a CLI needs
          (offers WILL ECHO and WILL SGA, refuses the rest, skips
          subnegotiations, undoubles IAC IAC);
  stdio   the session on stdin/stdout (a pty: sshd's forced command), after
          the ssh login (the dialog's "ssh_script");
  http    the D-Link DGS-1210 web interface (two POSTs; the Referer and the
          logged-in source address are checked).

Faults (--fault, may repeat): pager_on (the pager-off command is ignored),
silent (never says anything), close_mid (the connection closes halfway
through the first configuration), blank_lines (an extra blank line after
each command's output). A wrong password is a configuration matter: the
simulator wants --user/--password and refuses anything else.
"""
import argparse
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import tty

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
ECHO, SGA = 1, 3


class Closed(Exception):
    pass


class SockIO:
    """Telnet over a socket: bytes in with IAC handling, bytes out."""

    def __init__(self, sock):
        self.sock = sock
        self.pending = b""
        sock.sendall(bytes([IAC, WILL, ECHO, IAC, WILL, SGA]))

    def _fill(self):
        data = self.sock.recv(4096)
        if not data:
            raise Closed()
        out = bytearray()
        data = self.pending + data
        self.pending = b""
        i = 0
        while i < len(data):
            c = data[i]
            if c != IAC:
                out.append(c)
                i += 1
                continue
            if i + 1 >= len(data):
                self.pending = data[i:]
                break
            cmd = data[i + 1]
            if cmd == IAC:
                out.append(IAC)
                i += 2
            elif cmd in (WILL, WONT, DO, DONT):
                if i + 2 >= len(data):
                    self.pending = data[i:]
                    break
                opt = data[i + 2]
                if cmd == WILL:
                    self.sock.sendall(bytes([IAC, DONT, opt]))
                elif cmd == DO and opt not in (ECHO, SGA):
                    self.sock.sendall(bytes([IAC, WONT, opt]))
                i += 3
            elif cmd == SB:
                j = data.find(bytes([IAC, SE]), i)
                if j < 0:
                    self.pending = data[i:]
                    break
                i = j + 2
            else:
                i += 2
        return bytes(out)

    def read(self):
        while True:
            b = self._fill()
            if b:
                return b

    def write(self, s):
        self.sock.sendall(s.encode("latin-1").replace(b"\xff", b"\xff\xff"))

    def close(self):
        try:
            self.sock.shutdown(2)
        except OSError:
            pass
        self.sock.close()


class FdIO:
    """The session on descriptors (a pty under sshd)."""

    def __init__(self, rfd, wfd):
        self.rfd, self.wfd = rfd, wfd
        if os.isatty(rfd):
            tty.setraw(rfd)

    def read(self):
        b = os.read(self.rfd, 4096)
        if not b:
            raise Closed()
        return b

    def write(self, s):
        os.write(self.wfd, s.encode("latin-1"))

    def close(self):
        os.close(self.wfd)


class Session:
    def __init__(self, io, dialog, args):
        self.io, self.d, self.a = io, dialog, args
        self.buf = b""
        self.after_cr = False
        self.paging = bool(dialog.get("pager"))

    def byte(self):
        while not self.buf:
            self.buf += self.io.read()
        c, self.buf = self.buf[:1], self.buf[1:]
        return c

    def key(self):
        """One key press (the LF or NUL of a CRLF or CR NUL sent before is not one)."""
        c = self.byte()
        if self.after_cr and c in (b"\n", b"\0"):
            c = self.byte()
        self.after_cr = False
        return c

    def line(self, echo=True):
        """A line ended by CR, LF, CRLF or CR NUL (what telnet clients send)."""
        out = b""
        while True:
            c = self.byte()
            if self.after_cr and c in (b"\n", b"\0"):
                self.after_cr = False
                continue
            self.after_cr = c == b"\r"
            if c in (b"\r", b"\n"):
                break
            out += c
        text = out.decode("latin-1")
        self.io.write((text if echo else "") + "\r\n")
        return text

    def want(self, what, text):
        if what == "user":
            return text == self.a.user
        if what == "password":
            return text == self.a.password
        if what == "enable_password":
            return text == (self.a.enable_password or self.a.password)
        return text == what

    def script(self, steps):
        i, fails = 0, 0
        while i < len(steps):
            st = steps[i]
            if "send" in st:
                self.io.write(st["send"])
            if "key" in st:
                self.key()
            if "read" in st:
                got = self.line(echo=not st.get("secret"))
                if not self.want(st["read"], got):
                    self.io.write(st.get("refused", "% Invalid input\r\n"))
                    fails += 1
                    if fails >= 3:
                        raise Closed()
                    i = st.get("retry", i)
                    continue
            i += 1

    def output(self, text, mid_close=False):
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        pager = self.d.get("pager")
        for n, l in enumerate(lines):
            if mid_close and n >= len(lines) // 2:
                raise Closed()
            self.io.write(l + "\r\n")
            if self.paging and pager and (n + 1) % pager["lines"] == 0 and n + 1 < len(lines):
                self.io.write(pager["text"])
                self.key()
                self.io.write(pager["erase"])
        if "blank_lines" in self.a.fault:
            self.io.write("\r\n")

    def run(self):
        if "silent" in self.a.fault:
            while True:
                self.io.read()
        self.script(self.d["ssh_script"] if self.a.mode == "stdio" else self.d["script"])
        first_config = True
        while True:
            self.io.write(self.d["prompt"])
            cmd = self.line().strip()
            if cmd == "":
                continue
            if cmd in self.d.get("exit", []):
                self.io.write(self.d.get("bye", ""))
                raise Closed()
            if cmd == self.d.get("pager_off"):
                if "pager_on" not in self.a.fault:
                    self.paging = False
                continue
            out = self.d["commands"].get(cmd)
            if out is None:
                self.io.write(self.d.get("invalid", "% Invalid input detected\r\n"))
                continue
            mid = "close_mid" in self.a.fault and first_config
            first_config = False
            self.output(out, mid)


def load(path):
    with open(path) as f:
        return json.load(f)


def serve_telnet(args, dialog):
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            io = SockIO(self.request)
            try:
                Session(io, dialog, args).run()
            except (Closed, OSError):
                pass
            finally:
                io.close()

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 256

    srv = Server(("127.0.0.1", args.port), Handler)
    announce(args, srv.server_address[1])
    srv.serve_forever()


def announce(args, port):
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)


def serve_http(args, dialog):
    logged_in = set()
    config = dialog["config_bin"].encode("latin-1")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, fmt, *a):
            if args.log:
                with open(args.log, "a") as f:
                    f.write("%s %s\n" % (self.command, self.path))

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n).decode("latin-1")

        def send(self, code, data, ctype="text/html"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            host = "http://%s" % self.headers.get("Host", "")
            ref = self.headers.get("Referer", "")
            form = dict(kv.split("=", 1) for kv in self.body().split("&") if "=" in kv)
            from urllib.parse import unquote_plus
            form = {k: unquote_plus(v) for k, v in form.items()}
            if self.path == "/form/formLoginApply":
                if ref != host + "/www/login.html":
                    return self.send(403, b"<html>bad referer</html>")
                if form.get("Login") == args.user and form.get("Password") == args.password:
                    logged_in.add(self.client_address[0])
                    return self.send(200, b"<html><script>top.location='/www/index.html'</script></html>")
                return self.send(200, b"<html>Wrong password</html>")
            if self.path == "/BinFile/config.bin":
                if ref != host + "/www/iss/013_download_cfg.html":
                    return self.send(403, b"<html>bad referer</html>")
                if self.client_address[0] not in logged_in:
                    return self.send(200, b"<html><body>Please log in</body></html>")
                return self.send(200, config, "application/octet-stream")
            if self.path == "/form/formLogout":
                logged_in.discard(self.client_address[0])
                return self.send(200, b"<html>bye</html>")
            return self.send(404, b"<html>not found</html>")

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    announce(args, srv.server_address[1])
    srv.serve_forever()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["telnet", "stdio", "http"])
    ap.add_argument("--dialog", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--user", default="admin")
    # The passwords come from the environment, never from the command line
    # (the tests check that no process shows them there).
    ap.add_argument("--password", default=os.environ.get("SWITCH_SIM_PASSWORD", "secret"))
    ap.add_argument("--enable-password", default=os.environ.get("SWITCH_SIM_ENABLE"))
    ap.add_argument("--fault", action="append", default=[])
    ap.add_argument("--log")
    args = ap.parse_args()
    dialog = load(args.dialog)
    if args.mode == "telnet":
        serve_telnet(args, dialog)
    elif args.mode == "http":
        serve_http(args, dialog)
    else:
        try:
            Session(FdIO(0, 1), dialog, args).run()
        except Closed:
            pass


if __name__ == "__main__":
    main()
