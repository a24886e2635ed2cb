"""API Gateway (HTTP API, payload format 2.0) and the Lambda service in front
of the real per-endpoint binaries, as `template.yaml` deploys them.

The template decides everything a deployment would: each
AWS::Serverless::Function's HttpApi events are its routes, and Globals plus
the function's own Environment are its variables (`!Ref`, `!GetAtt`,
`!Join` and `!If` on the template's conditions, resolved from CONFIG's
`resolve`, parameters falling back to their defaults). A request on the front port is matched to a route as API Gateway
matches (literal segments before parameters; no route is `404`), and turned
into the event API Gateway sends: the Cookie header split into `cookies`,
repeated headers and query parameters joined with commas, a body that is
not JSON or text base64-encoded with `isBase64Encoded: true`, the peer
address as `requestContext.http.sourceIp`. The function gets it through a
Lambda runtime API of its own; its answer becomes the HTTP response
(`Set-Cookie` from `cookies`, the body decoded from base64 when flagged). A
function's binary starts on its first request (a cold start, with its init
calls) and then serves one request at a time, as one Lambda instance does;
a crashed or failing function is a `502`, as on AWS.

Each function runs with an AWS access key id equal to its logical id, so a
recording proxy between the binaries and AWS (tests/fault_proxy.py) can
tell which function made each call.

Usage: python lambda_gateway.py CONFIG_FILE PORT
CONFIG_FILE (JSON): {"template": path, "binaries": folder, "logs": folder,
    "resolve": {"Table": name, "SigningKey.Arn": arn, "MailFrom": ..., ...},
    "environment": {variables added to every function: AWS endpoint, ...}}
"""

import base64
import http.server
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import yaml

CONFIG = json.loads(open(sys.argv[1]).read())
TEXT_TYPES = ("application/json", "application/problem+json", "text/")


class CloudFormationLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags kept as their long forms."""


def _intrinsic(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def resolve(value, parameters, where):
    """A template value as a string: a literal, `!Ref`, `!GetAtt`, or
    `!Join` over them (a CommaDelimitedList parameter joins its items)."""
    if isinstance(value, (str, int, float)):
        return str(value)
    known = CONFIG["resolve"]
    if "Ref" in value:
        name = value["Ref"]
        if name in known:
            return str(known[name])
        if "Default" in parameters.get(name, {}):
            return str(parameters[name]["Default"])
    if "Fn::GetAtt" in value:
        name = ".".join(value["Fn::GetAtt"])
        if name in known:
            return str(known[name])
    if "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        chosen = when_true if condition(name, parameters) else when_false
        return resolve(chosen, parameters, where)
    if "Fn::Join" in value:
        separator, items = value["Fn::Join"]
        if isinstance(items, dict):  # a list parameter: "a, b" stands for [a, b]
            items = resolve(items, parameters, where).split(",")
        return separator.join(resolve(item, parameters, where).strip() for item in items)
    sys.exit(f"lambda_gateway: {where} is {value}, which CONFIG's resolve does not give")


CONDITIONS = {}


def condition(name, parameters):
    """A template condition, from its Fn::Not, Fn::Equals and Condition."""
    def evaluate(expression):
        if "Fn::Not" in expression:
            return not evaluate(expression["Fn::Not"][0])
        if "Fn::Equals" in expression:
            left, right = expression["Fn::Equals"]
            return resolve(left, parameters, name) == resolve(right, parameters, name)
        if "Condition" in expression:
            return condition(expression["Condition"], parameters)
        sys.exit(f"lambda_gateway: condition {name} uses {expression}, which it cannot evaluate")
    return evaluate(CONDITIONS[name])


class Function:
    """One Lambda function: its binary, a runtime API, and an instance
    started on the first request."""

    def __init__(self, logical_id, binary, environment):
        self.logical_id = logical_id
        self.binary = binary
        self.environment = environment
        self.events = queue.Queue()
        self.waiting = {}
        self.lock = threading.Lock()
        self.process = None
        self.runtime = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
        self.runtime.function = self
        threading.Thread(target=self.runtime.serve_forever, daemon=True).start()

    def invoke(self, event, timeout):
        """Hands `event` to the function; its response payload, or None
        when it failed, crashed or timed out."""
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self.start()
        request_id = str(uuid.uuid4())
        answer = queue.Queue(maxsize=1)
        self.waiting[request_id] = answer
        self.events.put((request_id, event))
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    return answer.get(timeout=0.2)
                except queue.Empty:
                    if self.process.poll() is not None:
                        return None
            return None
        finally:
            self.waiting.pop(request_id, None)

    def start(self):
        log = open(os.path.join(CONFIG["logs"], f"{self.logical_id}.log"), "ab")
        environment = {**self.environment,
                       "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self.runtime.server_address[1]}"}
        self.process = subprocess.Popen([self.binary], env=environment, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=log)


def reply(handler, status, headers, body):
    """Answers `handler`'s request with a body of known length."""
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("content-length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """The Lambda runtime API (2018-06-01) for one function."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        reply(self, status, headers, body)

    def do_GET(self):
        function = self.server.function
        if not self.path.endswith("/runtime/invocation/next"):
            return self.reply(404)
        request_id, event = function.events.get()
        self.reply(200, json.dumps(event).encode(), [
            ("content-type", "application/json"),
            ("lambda-runtime-aws-request-id", request_id),
            ("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 30000)),
            ("lambda-runtime-invoked-function-arn",
             f"arn:aws:lambda:us-east-1:123456789012:function:{function.logical_id}"),
            ("lambda-runtime-trace-id", f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"),
        ])

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        payload = self.rfile.read(length)
        parts = self.path.split("/")
        # /2018-06-01/runtime/invocation/{id}/response|error, /runtime/init/error
        if len(parts) >= 6 and parts[3] == "invocation":
            answer = self.server.function.waiting.get(parts[4])
            if answer is not None:
                answer.put(json.loads(payload) if parts[5] == "response" else None)
        self.reply(202)


def load_functions():
    template = yaml.load(open(CONFIG["template"]), Loader=CloudFormationLoader)
    parameters = template.get("Parameters", {})
    CONDITIONS.update(template.get("Conditions", {}))
    shared = template["Globals"]["Function"]
    routes, functions = [], {}
    for logical_id, resource in template["Resources"].items():
        # Fn::ForEach entries (log groups, alarms) are lists, no functions.
        if not isinstance(resource, dict) or resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        variables = {**shared.get("Environment", {}).get("Variables", {}),
                     **properties.get("Environment", {}).get("Variables", {})}
        environment = {name: resolve(value, parameters, f"{logical_id} {name}")
                       for name, value in variables.items()}
        environment.update(CONFIG.get("environment", {}))
        environment.update({
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_ACCESS_KEY_ID": logical_id,
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_LAMBDA_FUNCTION_NAME": logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(properties.get("MemorySize", shared["MemorySize"])),
        })
        binary = os.path.join(CONFIG["binaries"], resource["Metadata"]["BuildProperties"]["Binary"])
        function = Function(logical_id, binary, environment)
        functions[logical_id] = function
        for event in properties.get("Events", {}).values():
            if event["Type"] == "HttpApi":
                routes.append((event["Properties"]["Method"], event["Properties"]["Path"], function))
    return routes, functions


def match(routes, method, path):
    """The route API Gateway picks: (route key, path parameters, function)."""
    segments = path.rstrip("/").split("/") if path != "/" else [""]
    best = None
    for route_method, template, function in routes:
        parts = template.split("/")
        if route_method != method or len(parts) != len(segments):
            continue
        parameters = {}
        for part, segment in zip(parts, segments):
            if part.startswith("{") and part.endswith("}") and segment:
                parameters[part[1:-1]] = urllib.parse.unquote(segment)
            elif part != segment:
                break
        else:
            if best is None or len(parameters) < len(best[1]):
                best = (f"{method} {template}", parameters, function)
    return best


def event_for(handler, route_key, parameters, body):
    """The payload-2.0 event API Gateway builds from this request."""
    headers, cookies = {}, []
    for name, value in handler.headers.items():
        name = name.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        elif name in headers:
            headers[name] = f"{headers[name]},{value}"
        else:
            headers[name] = value
    path, _, raw_query = handler.path.partition("?")
    query = {}
    for name, value in urllib.parse.parse_qsl(raw_query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    content_type = headers.get("content-type", "")
    binary = bool(body) and not content_type.startswith(TEXT_TYPES)
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": handler.command,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": handler.client_address[0],
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": binary,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if parameters:
        event["pathParameters"] = parameters
    if body:
        event["body"] = base64.b64encode(body).decode() if binary else body.decode()
    return event


class Gateway(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, headers, body):
        reply(self, status, headers, body)

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        # POST /__invoke/<logical id>: the body as the function's event, as
        # a non-HTTP trigger (the table stream's event source mapping) sends
        # it; the function's response as the answer.
        if self.command == "POST" and self.path.startswith("/__invoke/"):
            function = FUNCTIONS.get(self.path[len("/__invoke/"):])
            if function is None:
                return self.reply(404, [("content-type", "application/json")], b'{"message":"no such function"}')
            answer = function.invoke(json.loads(body), timeout=60)
            if answer is None:
                return self.reply(502, [("content-type", "application/json")], b'{"message":"the function failed"}')
            return self.reply(200, [("content-type", "application/json")], json.dumps(answer).encode())
        found = match(ROUTES, self.command, self.path.partition("?")[0])
        if found is None:
            return self.reply(404, [("content-type", "application/json")], b'{"message":"Not Found"}')
        route_key, parameters, function = found
        answer = function.invoke(event_for(self, route_key, parameters, body), timeout=60)
        if answer is None:
            return self.reply(502, [("content-type", "application/json")],
                              b'{"message":"Internal Server Error"}')
        # Payload 2.0 has no multiValueHeaders: API Gateway ignores them.
        headers = list((answer.get("headers") or {}).items())
        headers.extend(("set-cookie", cookie) for cookie in answer.get("cookies") or [])
        payload = answer.get("body") or ""
        payload = base64.b64decode(payload) if answer.get("isBase64Encoded") else payload.encode()
        self.reply(int(answer.get("statusCode", 200)), headers, payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any


def stop(*_):
    raise SystemExit(0)


signal.signal(signal.SIGTERM, stop)
ROUTES, FUNCTIONS = load_functions()
try:
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Gateway).serve_forever()
finally:
    for function in FUNCTIONS.values():
        if function.process is not None:
            function.process.kill()
