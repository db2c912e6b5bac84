"""A tiny IPP printer for tests: real IPP/1.1 over HTTP on a loopback address, answering
Get-Printer-Attributes with the attributes it was given (encoded with pyipp's serializer)."""

from __future__ import annotations

import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pyipp.enums import IppOperation, IppTag
from pyipp.parser import parse
from pyipp.serializer import construct_attribute


class IppPrinter:
    def __init__(self, address: str, attributes: list[tuple[str, object, IppTag]], path: str = "/ipp/print"):
        self.attributes = attributes
        self.path = path
        self.requests: list[dict] = []
        printer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = parse(body, contains_data=False)
                printer.requests.append(request)
                operation = request["status-code"]  # the operation-id, in a request
                if self.path != printer.path or operation != IppOperation.GET_PRINTER_ATTRIBUTES:
                    self.send_error(404)
                    return
                answer = struct.pack(">bbhi", 1, 1, 0, request["request-id"])  # IPP/1.1 successful-ok
                answer += bytes([IppTag.OPERATION.value])
                answer += construct_attribute("attributes-charset", "utf-8", IppTag.CHARSET)
                answer += construct_attribute("attributes-natural-language", "en", IppTag.LANGUAGE)
                answer += bytes([IppTag.PRINTER.value])
                for name, value, tag in printer.attributes:
                    answer += construct_attribute(name, value, tag)
                answer += bytes([IppTag.END.value])
                self.send_response(200)
                self.send_header("Content-Type", "application/ipp")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((address, 0), Handler)
        self.address, self.port = self.server.server_address[:2]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
