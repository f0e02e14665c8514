"""An OTLP/HTTP trace receiver for the tests: each export it receives, decoded
with opentelemetry-proto, becomes one JSON line on stdout.

Run inside the app's container (``python otlp_receiver.py PORT``), where the
app's image has opentelemetry-proto; the tests read its output. With an
address after the port (``0.0.0.0``), it listens there instead of on
127.0.0.1: a container of its own, Jaeger's stand-in in
tests/examples/compose.observability.test.yaml.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

# Exports arrive from several workers at once: one line at a time.
WRITING = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
            self.send_error(400, f"not an OTLP/HTTP protobuf trace export: {self.path}")
            return
        export = ExportTraceServiceRequest.FromString(body)
        line = json.dumps(MessageToDict(export)) + "\n"
        with WRITING:
            sys.stdout.write(line)
            sys.stdout.flush()
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


if __name__ == "__main__":
    address = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    ThreadingHTTPServer((address, int(sys.argv[1])), Receiver).serve_forever()
