#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A small HTTP server with the awkward responses fetch must handle.

    httpd.py            listen on 127.0.0.1, any free port; print the port

    /len      200, Content-Length, 1000 bytes
    /chunked  200, Transfer-Encoding: chunked, 3 chunks, 3000 bytes
    /close    200, no length: the body ends when the connection closes, 2000 bytes
    /bad      not HTTP at all
    /early    103 Early Hints, then 200 with 5 bytes: the interim response
              is not the answer
    /slow     answers after 30 s (for timeouts)
    /short    200, Content-Length 1000, then 10 bytes and a close
    /hangup   reads the request, closes without answering
    other     404
"""
import http.server
import socketserver
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/len":
            body = b"L" * 1000
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"a" * 1000, b"b" * 1500, b"c" * 500):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"C" * 2000)
            self.close_connection = True
        elif self.path == "/bad":
            self.wfile.write(b"this is not HTTP\r\n\r\n")
            self.close_connection = True
        elif self.path == "/early":
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\n"
                             b"Link: </style.css>; rel=preload\r\n\r\n")
            self.wfile.flush()
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"S" * 10)
            self.close_connection = True
        elif self.path == "/hangup":
            self.close_connection = True
        elif self.path == "/slow":
            time.sleep(30)
            self.send_error(504)
        else:
            self.send_error(404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many fetches connect at once
    allow_reuse_address = True


if __name__ == "__main__":
    srv = Server(("127.0.0.1", 0), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
