#!/usr/bin/python3
"""mp-h2reset: an HTTPS server speaking only HTTP/2 (ALPN h2) that resets
streams on purpose, for the record tests (tests/http/native/test_http_h2_paths.c).
Debian's python3-h2 (scripts/deps.sh). Loopback only.

  /reset-after-head   200, content-length 1000, 500 bytes, RST_STREAM
                      INTERNAL_ERROR
  /reset-before-head  RST_STREAM INTERNAL_ERROR at once
  anything else       200 "ok\\n"

usage: h2reset.py --tls-cert PEM --tls-key PEM [--exit-on-stdin-eof]
Prints "PORT <n>" once bound. A thread per connection."""
import argparse
import os
import socket
import ssl
import sys
import threading

import h2.config
import h2.connection
import h2.errors
import h2.events


def answer(conn, sid, path):
    """Answers stream sid of conn for path."""
    if path == "/reset-before-head":
        conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        return
    if path == "/reset-after-head":
        conn.send_headers(sid, [(":status", "200"),
                                ("content-type", "text/plain"),
                                ("content-length", "1000")])
        conn.send_data(sid, b"r" * 500)
        conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        return
    conn.send_headers(sid, [(":status", "200"), ("content-length", "3")])
    conn.send_data(sid, b"ok\n", end_stream=True)


def serve(sock):
    """Serves one TLS connection until the client leaves."""
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=False, header_encoding="utf-8"))
    conn.initiate_connection()
    try:
        sock.sendall(conn.data_to_send())
        while True:
            data = sock.recv(65536)
            if not data:
                return
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    path = dict(ev.headers).get(":path", "/").split("?")[0]
                    answer(conn, ev.stream_id, path)
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(
                        ev.flow_controlled_length, ev.stream_id)
            sock.sendall(conn.data_to_send())
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        return
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls-cert", required=True)
    ap.add_argument("--tls-key", required=True)
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    a = ap.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.tls_cert, a.tls_key)
    ctx.set_alpn_protocols(["h2"])
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    print("PORT %d" % lsock.getsockname()[1], flush=True)
    if a.exit_on_stdin_eof:
        def watch():
            while os.read(0, 4096):
                pass
            os._exit(0)
        threading.Thread(target=watch, daemon=True).start()
    while True:
        s, _ = lsock.accept()
        try:
            t = ctx.wrap_socket(s, server_side=True)
        except (OSError, ssl.SSLError):
            s.close()
            continue
        threading.Thread(target=serve, args=(t,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
