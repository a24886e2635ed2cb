"""A proxy in front of moto_server that makes one AWS service fail on cue.

The AWS adapters talk to it as their endpoint (AWS_ENDPOINT_URL); it
forwards every request to moto unchanged, except the one a test has armed:

    POST /__fault {"service": "dynamodb"|"kms"|"ses"|"events", "kind": "throttle"|"fail",
                   "after": N}

lets N more calls to that service through, then answers every later call
with the service's own throttling error (`throttle`) or an internal error
(`fail`), in that service's wire format, until `DELETE /__fault`.
`GET /__fault` says how many calls it has failed since it was armed.

It also records which IAM actions each caller's calls need, keyed by the
access key id in the request's signature (the Lambda stand-in gives each
function its logical id as its key): `GET /__actions` answers
{"<access key id>": ["dynamodb:GetItem", ...]}, `DELETE /__actions` clears.
Actions are named as IAM evaluates them: a DynamoDB transaction needs the
item actions inside it (Put -> dynamodb:PutItem, ...), not an action of
its own; a call whose action this table does not know is recorded as
"unknown:<what it was>", so it cannot pass unnoticed.

Usage: python fault_proxy.py MOTO_URL PORT
"""

import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MOTO = sys.argv[1].rstrip("/")
LOCK = threading.Lock()
STATE = {"armed": None, "failed": 0}
ACTIONS = {}

# (status, headers, body) per service and kind, as each service sends them.
FAULTS = {
    ("dynamodb", "throttle"): (400, {"content-type": "application/x-amz-json-1.0"},
        {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
         "message": "Rate of requests exceeds the allowed throughput."}),
    ("dynamodb", "fail"): (500, {"content-type": "application/x-amz-json-1.0"},
        {"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
         "message": "Internal server error"}),
    ("kms", "throttle"): (400, {"content-type": "application/x-amz-json-1.1"},
        {"__type": "ThrottlingException", "message": "Rate exceeded"}),
    ("kms", "fail"): (500, {"content-type": "application/x-amz-json-1.1"},
        {"__type": "KMSInternalException", "message": "Internal error"}),
    ("ses", "throttle"): (429, {"content-type": "application/json",
                                "x-amzn-errortype": "TooManyRequestsException"},
        {"message": "Too many requests"}),
    ("ses", "fail"): (500, {"content-type": "application/json",
                            "x-amzn-errortype": "InternalFailure"},
        {"message": "Internal failure"}),
    ("events", "throttle"): (400, {"content-type": "application/x-amz-json-1.1"},
        {"__type": "ThrottlingException", "message": "Rate exceeded"}),
    ("events", "fail"): (500, {"content-type": "application/x-amz-json-1.1"},
        {"__type": "InternalException", "message": "Internal error"}),
}


def service_of(handler):
    target = handler.headers.get("x-amz-target", "")
    if target.startswith("DynamoDB_"):
        return "dynamodb"
    if target.startswith("TrentService."):
        return "kms"
    if target.startswith("AWSEvents."):
        return "events"
    if target.startswith("secretsmanager."):
        return "secretsmanager"
    if handler.path.startswith("/v2/email"):
        return "ses"
    return None


# SES v2 (REST): the IAM action of each call the adapters make.
SES_ACTIONS = {
    ("POST", "/v2/email/outbound-emails"): "ses:SendEmail",
    ("GET", "/v2/email/account"): "ses:GetAccount",
}
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def actions_of(handler, body):
    """The IAM actions a call needs."""
    target = handler.headers.get("x-amz-target", "")
    service = service_of(handler)
    if service == "dynamodb":
        operation = target.split(".", 1)[1]
        if operation in ("TransactWriteItems", "TransactGetItems"):
            items = json.loads(body)["TransactItems"]
            return [TRANSACT_ITEM_ACTIONS.get(kind, f"unknown:dynamodb {kind}")
                    for item in items for kind in item]
        return [f"dynamodb:{operation}"]
    if service == "kms":
        return [f"kms:{target.split('.', 1)[1]}"]
    if service in ("events", "secretsmanager"):
        return [f"{service}:{target.split('.', 1)[1]}"]
    if service == "ses":
        path = handler.path.split("?", 1)[0]
        return [SES_ACTIONS.get((handler.command, path), f"unknown:ses {handler.command} {path}")]
    return [f"unknown:{handler.command} {handler.path}"]


def caller_of(handler):
    """The access key id the request was signed with."""
    authorization = handler.headers.get("authorization", "")
    _, _, credential = authorization.partition("Credential=")
    return credential.split("/", 1)[0] or "anonymous"


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, headers, body):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def control(self, body):
        with LOCK:
            if self.command == "POST":
                fault = json.loads(body)
                STATE["armed"] = [fault["service"], fault["kind"], int(fault.get("after", 0))]
                STATE["failed"] = 0
            elif self.command == "DELETE":
                STATE["armed"] = None
            answer = {"failed": STATE["failed"]}
        self.reply(200, {"content-type": "application/json"}, answer)

    def recorded(self):
        with LOCK:
            if self.command == "DELETE":
                ACTIONS.clear()
            answer = {caller: sorted(actions) for caller, actions in ACTIONS.items()}
        self.reply(200, {"content-type": "application/json"}, answer)

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/__fault"):
            return self.control(body)
        if self.path.startswith("/__actions"):
            return self.recorded()
        service = service_of(self)
        with LOCK:
            ACTIONS.setdefault(caller_of(self), set()).update(actions_of(self, body))
        with LOCK:
            armed = STATE["armed"]
            fault = None
            if armed and armed[0] == service:
                if armed[2] > 0:
                    armed[2] -= 1
                else:
                    fault = FAULTS[(service, armed[1])]
                    STATE["failed"] += 1
        if fault:
            return self.reply(*fault)
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() not in ("host", "content-length", "connection")}
        request = urllib.request.Request(MOTO + self.path, data=body or None,
                                         headers=headers, method=self.command)
        try:
            with urllib.request.urlopen(request) as response:
                status, reply_headers, data = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, reply_headers, data = error.code, error.headers, error.read()
        passed = {name: value for name, value in reply_headers.items()
                  if name.lower() not in ("content-length", "connection", "transfer-encoding",
                                          "server", "date")}
        self.reply(status, passed, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_any


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Proxy).serve_forever()
