#!/usr/bin/env python3
"""Benchmarks, printed as tables.

1. local-api (release, embedded store) under load from wrk: requests per
   second, p50 and p99 latency for status, login, register, refresh,
   token-info and /v1/users/me, and the server's peak memory.
2. The machine's argon2id limit (verifications per second on all cores,
   measured just before and after the login run) beside login
   throughput, as a ratio.
3. Each Lambda binary's init duration and first-invocation latency under a
   stand-in for the Lambda runtime API, with the AWS adapters on moto_server.
4. Stripped binary sizes: x86_64 release, and arm64 from the deploy build
   (scripts/deploy-build.sh) when it has run.
6. Side by side with a peer: local-api's GET /status, GET /v1/users/me and
   GET /v1/auth/token-info beside fastapi-users' GET /status and GET
   /users/me (its documented set-up: SQLAlchemy on SQLite, JWT bearer,
   uvicorn with uvloop and httptools, one worker per core), each as a ratio.
5. Sign-in timing by account state: the median latency of an unknown
   account, a wrong password, and the right password of an unconfirmed and
   of a disabled account, each as a ratio to the wrong password's.

Usage: python3 scripts/bench.py [--seconds 10] [--connections 8] [--cold-starts 5]
                               [--only timing|init|peer] [--binaries DIR]
Needs wrk (Debian's package; installed with apt-get when run as root) and
moto_server (scripts/test.sh installs it into $LATCHKEY_TOOLS_DIR/venv,
.tools/venv by default). The peer's pinned packages
(scripts/bench/peer/requirements.txt) are installed into
$LATCHKEY_TOOLS_DIR/peer on first use.
"""

import argparse
import http.server
import json
import os
import pathlib
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
LUA = ROOT / "scripts" / "bench"
PASSWORD = "correct horse battery staple"


def say(text):
    print(f"==> {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def target_dir():
    metadata = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    return pathlib.Path(json.loads(metadata.stdout)["target_directory"])


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing Debian's wrk")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, env=env,
                       stdout=subprocess.DEVNULL)
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, env=env,
                           stdout=subprocess.DEVNULL)
        return
    sys.exit("wrk not found: install it (apt-get install wrk)")


def request(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if body is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_for(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url).read()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer within {seconds} s")


def confirmation_link(outbox, address):
    for eml in sorted(outbox.glob("*.eml"), reverse=True):
        text = eml.read_text()
        if address in text:
            text = re.sub(r"=\r?\n", "", text)
            match = re.search(r"(http://\S+/v1/users/confirm/[A-Za-z0-9_-]{43})", text)
            if match:
                return match.group(1)
    sys.exit(f"no confirmation email for {address}")


def wrk(base, path, script, seconds, connections, env):
    threads = min(connections, os.cpu_count() or 1)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
               "-s", str(LUA / script), base + path]
    output = subprocess.run(command, check=True, capture_output=True, text=True,
                            env={**os.environ, **env}).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def percentile(name):
        value, unit = re.search(rf"^\s+{name}\s+([\d.]+)(us|ms|s)", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"rate": rate, "p50": percentile("50%"), "p99": percentile("99%"),
            "errors": int(errors.group(1)) if errors else 0}


def peak_memory_mib(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def load_benchmarks(binaries, seconds, connections, only=None):
    """wrk on each route; the argon2id limit is measured just before and just
    after the login run, so both see the same machine (a shared machine's
    speed drifts by 10 % and more over minutes)."""
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="latchkey-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [binaries / "local-api", "--port", str(port), "--data-dir", data_dir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        # The register run makes thousands of accounts from one address.
        env={**os.environ, "RUST_LOG": "warn", "REGISTRATION_LIMIT_PER_IP": "1000000000/60"},
    )
    try:
        wait_for(base + "/status")
        email = "bench@example.com"
        status, _ = request(base, "POST", "/v1/users", {"email": email, "password": PASSWORD})
        assert status == 201, status
        urllib.request.urlopen(confirmation_link(data_dir / "outbox", email)).read()
        # Enough sessions that each wrk thread follows a refresh chain of its own.
        tokens = []
        for _ in range(connections + 1):
            status, pair = request(base, "POST", "/v1/auth/login",
                                   {"login": email, "password": PASSWORD, "remember_me": True})
            assert status == 200, pair
            tokens.append(pair)
        access = tokens[0]["access_token"]
        env = {
            "BENCH_LOGIN": json.dumps({"login": email, "password": PASSWORD}),
            "BENCH_TOKEN": access,
            "BENCH_REFRESH_TOKENS": " ".join(pair["refresh_token"] for pair in tokens[1:]),
        }
        rows = []
        limits = None
        for name, path, script in [
            ("GET /status", "/status", "get.lua"),
            ("POST /v1/auth/login", "/v1/auth/login", "login.lua"),
            ("POST /v1/users", "/v1/users", "register.lua"),
            ("POST /v1/auth/refresh", "/v1/auth/refresh", "refresh.lua"),
            ("GET /v1/auth/token-info", "/v1/auth/token-info", "bearer.lua"),
            ("GET /v1/users/me", "/v1/users/me", "bearer.lua"),
        ]:
            if only and name not in only:
                continue
            say(f"wrk {name}")
            # Refresh chains need one connection per thread.
            conns = min(connections, os.cpu_count() or 1) if "refresh" in path else connections
            before = argon2_limit(binaries / "examples") if "login" in path else None
            rows.append((name, conns, wrk(base, path, script, seconds, conns, env)))
            if before:
                limits = (before, argon2_limit(binaries / "examples"))
        return rows, peak_memory_mib(server.pid), limits
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def login_timing(binaries, samples):
    """Median sign-in latency per account state, requests interleaved so
    machine noise falls on every kind alike."""
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="latchkey-timing-"))
    admin = [binaries / "latchkey-admin", "--data-dir", data_dir, "users"]
    accounts = {"known@example.com": None, "waiting@example.com": "waiting",
                "disabled@example.com": "disabled"}
    for email, status in accounts.items():
        subprocess.run([*admin, "create", "--email", email], input=PASSWORD + "\n", text=True,
                       check=True, stdout=subprocess.DEVNULL)
        if status:
            subprocess.run([*admin, "set-status", email, status], check=True,
                           stdout=subprocess.DEVNULL)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Throttling would turn repeated failures into fast 429s: off for this run.
    env = {**os.environ, "RUST_LOG": "warn", "LOGIN_FAILURES_BEFORE_DELAY": "1000000",
           "LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY": "1000000",
           "LOGIN_FAILURE_LIMIT_PER_IP": "1000000/60"}
    server = subprocess.Popen(
        [binaries / "local-api", "--port", str(port), "--data-dir", data_dir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )
    kinds = [
        ("wrong password", "known@example.com", "not the password", 401),
        ("unknown account", None, PASSWORD, 401),
        ("unconfirmed, right password", "waiting@example.com", PASSWORD, 403),
        ("disabled, right password", "disabled@example.com", PASSWORD, 403),
    ]
    timings = {name: [] for name, *_ in kinds}
    try:
        wait_for(base + "/status")
        for round_number in range(samples + 2):
            for name, login, password, expected in kinds:
                login = login or f"nobody{round_number}@example.com"
                started = time.perf_counter()
                status, body = request(base, "POST", "/v1/auth/login",
                                       {"login": login, "password": password})
                elapsed = (time.perf_counter() - started) * 1000
                assert status == expected, (name, status, body)
                if round_number >= 2:  # two warm-up rounds
                    timings[name].append(elapsed)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    return {name: statistics.median(values) for name, values in timings.items()}


def argon2_limit(examples):
    """(verifications per second on all cores, cores), or None without the
    example binary."""
    program = examples / "argon2_limit"
    if not program.exists():
        say(f"no {program}: argon2id limit skipped")
        return None
    say("argon2id limit")
    output = subprocess.run([program, "5"], check=True, capture_output=True, text=True).stdout.split()
    return float(output[0]), int(output[1])


class RuntimeApi(http.server.ThreadingHTTPServer):
    """A stand-in for the Lambda runtime API: hands out one event, records
    when the function asked for it and when it answered."""

    def __init__(self, event):
        super().__init__(("127.0.0.1", 0), RuntimeHandler)
        self.event = event
        self.asked = threading.Event()
        self.answered = threading.Event()
        self.times = {}
        self.response = None


class RuntimeHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        if not self.path.endswith("/invocation/next"):
            self.send_error(404)
            return
        if server.asked.is_set():
            # One invocation only: later polls wait until the run ends.
            server.answered.wait(30)
            time.sleep(30)
            return
        server.times["asked"] = time.perf_counter()
        server.asked.set()
        body = json.dumps(server.event).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("lambda-runtime-aws-request-id", "bench-request")
        self.send_header("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 30000))
        self.send_header("lambda-runtime-invoked-function-arn",
                         "arn:aws:lambda:us-east-1:123456789012:function:bench")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        server.times["sent"] = time.perf_counter()
        self.wfile.write(body)

    def do_POST(self):
        server = self.server
        length = int(self.headers.get("content-length", 0))
        payload = self.rfile.read(length)
        server.times["answered"] = time.perf_counter()
        server.response = (self.path, payload)
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()
        server.answered.set()


def moto_python():
    # Where scripts/test.sh installs it (scripts/tools.sh).
    tools = pathlib.Path(os.environ.get("LATCHKEY_TOOLS_DIR", ".tools"))
    moto_server = os.environ.get("MOTO_SERVER") or str((ROOT / tools) / "venv/bin/moto_server")
    python = pathlib.Path(moto_server).parent / "python3"
    if not python.exists():
        sys.exit("moto not found: run ./scripts/test.sh once (it installs it), or set MOTO_SERVER")
    return python


def cold_start(binary, event, env):
    """Starts `binary` against a runtime API stand-in holding `event`; returns
    the init duration (process start to asking for the first event) and the
    first invocation's latency in ms, and the status code it answered."""
    runtime = RuntimeApi(event)
    thread = threading.Thread(target=runtime.serve_forever, daemon=True)
    thread.start()
    env = {**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{runtime.server_address[1]}"}
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not runtime.answered.wait(30):
        process.kill()
        sys.exit(f"{binary.name} did not answer: {process.stderr.read().decode()[-2000:]}")
    process.kill()
    process.wait()
    runtime.shutdown()
    times = runtime.times
    status = json.loads(runtime.response[1]).get("statusCode") if runtime.response else None
    return (times["asked"] - started) * 1000, (times["answered"] - times["sent"]) * 1000, status


def init_benchmarks(binaries, names, samples):
    port = free_port()
    moto = subprocess.Popen([moto_python(), ROOT / "tests" / "moto_serial.py", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    aws = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
    try:
        wait_for(endpoint + "/moto-api/")
        # local-api --aws --bootstrap creates the table, key and sender.
        api_port = free_port()
        bootstrap = subprocess.Popen(
            [binaries / "local-api", "--aws", "--bootstrap", "--port", str(api_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **aws})
        wait_for(f"http://127.0.0.1:{api_port}/status", 60)
        bootstrap.terminate()
        bootstrap.wait()
        config = {
            "TABLE_NAME": "latchkey", "KMS_KEY_ID": "alias/latchkey-local",
            "KMS_MESSAGE_TYPE": "RAW", "MAIL_FROM": "no-reply@latchkey.example",
            "PUBLIC_BASE_URL": "https://auth.example.com", "RUST_LOG": "warn",
            "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
        }
        rows = []
        for name in names:
            event_file = ROOT / "events" / f"{name}.json"
            if not event_file.exists():
                event_file = next(iter(sorted((ROOT / "events").glob(f"{name}*.json"))))
            event = json.loads(event_file.read_text())
            # Each sample is a fresh process, so a cold start; the median
            # keeps one slow start on a shared machine out of the table.
            runs = [cold_start(binaries / name, event, {**os.environ, **aws, **config})
                    for _ in range(samples)]
            # The first run's status: later ones may differ by design (a
            # second register of the same address is a 409).
            rows.append((name, statistics.median(init for init, _, _ in runs),
                         statistics.median(first for _, first, _ in runs), runs[0][2]))
        return rows
    finally:
        moto.terminate()
        moto.wait()


def sizes(directory, names):
    return {name: (directory / name).stat().st_size / 2**20
            for name in names if (directory / name).exists()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--samples", type=int, default=20,
                        help="requests per kind in the timing tables (sign-in; forgot and resend)")
    parser.add_argument("--cold-starts", type=int, default=5,
                        help="cold starts per Lambda binary (the table shows medians)")
    parser.add_argument("--only", choices=["timing", "init", "peer"],
                        help="run one table only: the sign-in timing, the Lambda binaries' "
                             "init, first invocation and size, or the side-by-side run with "
                             "fastapi-users")
    parser.add_argument("--binaries", type=pathlib.Path,
                        help="measure the release binaries in this folder instead of building "
                             "(to compare profiles); Lambda binaries missing there are skipped")
    args = parser.parse_args()

    if args.only in (None, "peer"):
        ensure_wrk()
    if args.binaries:
        release = args.binaries.resolve()
    else:
        say("cargo build --release (local-api, the Lambda binaries, argon2_limit)")
        subprocess.run(["cargo", "build", "--release", "-p", "latchkey-local",
                        "-p", "latchkey-functions"], cwd=ROOT, check=True)
        subprocess.run(["cargo", "build", "--release", "-p", "latchkey", "--example",
                        "argon2_limit"], cwd=ROOT, check=True)
        release = target_dir() / "release"
    names = sorted(path.stem for path in (ROOT / "functions" / "src" / "bin").glob("*.rs"))

    if args.only in (None, "timing"):
        timing_table(release, args.samples)
    if args.only is None:
        load_table(release, args.seconds, args.connections)
    if args.only in (None, "init"):
        init_table(release, names, args.cold_starts)
    if args.only in (None, "peer"):
        peer_table(release, args.seconds, args.connections)


def email_request_timing(binaries, samples):
    """Median forgot, resend, emailed-code request and code-check latency for
    an address with an account and one without, on the AWS adapters (DynamoDB and SES in moto_server),
    where the known path's store writes and SES call would show; requests
    interleaved, as for sign-in."""
    port = free_port()
    moto = subprocess.Popen([moto_python(), ROOT / "tests" / "moto_serial.py", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    aws = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
    api_port = free_port()
    base = f"http://127.0.0.1:{api_port}"
    # Limits would stop the run long before its samples are taken.
    env = {**os.environ, **aws, "RUST_LOG": "warn", "EMAIL_LIMIT_PER_ADDRESS": "1000000/60",
           "EMAIL_LIMIT_PER_ADDRESS_TOTAL": "1000000/60",
           "EMAIL_REQUEST_LIMIT_PER_IP": "1000000/60", "USER_TYPES": "user,partner",
           # Wrong emailed codes count as failed sign-ins.
           "LOGIN_FAILURES_BEFORE_DELAY": "1000000", "LOGIN_ACCOUNT_FAILURES_BEFORE_DELAY": "1000000",
           "LOGIN_FAILURE_LIMIT_PER_IP": "1000000/60"}
    server = None
    try:
        wait_for(aws["AWS_ENDPOINT_URL"] + "/moto-api/")
        server = subprocess.Popen(
            [binaries / "local-api", "--aws", "--bootstrap", "--port", str(api_port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        wait_for(base + "/status", 60)
        status, _ = request(base, "POST", "/v1/users",
                            {"email": "known@example.com", "password": PASSWORD})
        assert status == 201, status
        # The account is of the default type: asked for as a `partner`,
        # it must look like no account at all.
        known = "known@example.com"
        code = "/v1/auth/email-code"
        check = "/v1/auth/email-code/verify"
        # A wrong code (the account's own was just sent, unseen) is checked
        # like any code; its answer is the unknown address's.
        wrong = {"code": "000000"}
        kinds = [("forgot, account", "/v1/password/forgot", known, None, {}, 202),
                 ("forgot, no account", "/v1/password/forgot", None, None, {}, 202),
                 ("forgot, another type's", "/v1/password/forgot", known, "partner", {}, 202),
                 ("resend, waiting account", "/v1/users/confirm/resend", known, None, {}, 202),
                 ("resend, no account", "/v1/users/confirm/resend", None, None, {}, 202),
                 ("resend, another type's", "/v1/users/confirm/resend", known, "partner", {}, 202),
                 ("email code, account", code, known, None, {}, 202),
                 ("email code, no account", code, None, None, {}, 202),
                 ("email code, another type's", code, known, "partner", {}, 202),
                 ("code check, account", check, known, None, wrong, 401),
                 ("code check, no account", check, None, None, wrong, 401),
                 ("code check, another type's", check, known, "partner", wrong, 401)]
        timings = {name: [] for name, *_ in kinds}
        for round_number in range(samples + 2):
            for name, path, email, source, extra, expected in kinds:
                email = email or f"nobody{round_number}@example.com"
                body = {"email": email, **({"source": source} if source else {}), **extra}
                started = time.perf_counter()
                status, body = request(base, "POST", path, body)
                elapsed = (time.perf_counter() - started) * 1000
                assert status == expected, (name, status, body)
                if round_number >= 2:
                    timings[name].append(elapsed)
        return {name: statistics.median(values) for name, values in timings.items()}
    finally:
        if server:
            server.terminate()
            server.wait()
        moto.terminate()
        moto.wait()


def timing_table(release, samples):
    medians = login_timing(release, samples)
    wrong = medians["wrong password"]
    print(f"\nsign-in latency by account state, local-api ({release}), {samples} samples each")
    print(f"{'kind':30} {'median ms':>10} {'/ wrong password':>17}")
    for name, median in medians.items():
        print(f"{name:30} {median:10.2f} {median / wrong:17.2f}")
    medians = email_request_timing(release, samples)
    print(f"\nforgot, resend and emailed-code latency, local-api --aws ({release}) on moto_server, "
          f"{samples} samples each")
    print(f"{'kind':30} {'median ms':>10} {'/ with account':>17}")
    rows = list(medians.items())
    # Rows come in threes: with an account, without, another type's.
    for index, (name, median) in enumerate(rows):
        known = rows[index - index % 3][1]
        print(f"{name:30} {median:10.2f} {median / known:17.2f}")


def peer_python():
    """The peer's virtual environment, made on first use."""
    tools = pathlib.Path(os.environ.get("LATCHKEY_TOOLS_DIR", ROOT / ".tools"))
    venv = tools / "peer"
    python = venv / "bin" / "python"
    requirements = ROOT / "scripts" / "bench" / "peer" / "requirements.txt"
    stamp = venv / "requirements.txt"
    if not stamp.exists() or stamp.read_text() != requirements.read_text():
        say(f"installing the peer (fastapi-users) into {venv}")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "-r", requirements], check=True)
        shutil.copyfile(requirements, stamp)
    return python


def peer_benchmarks(seconds, connections):
    """fastapi-users' GET /status and GET /users/me under the same wrk runs."""
    python = peer_python()
    app_dir = ROOT / "scripts" / "bench" / "peer"
    data_dir = pathlib.Path(tempfile.mkdtemp(prefix="latchkey-peer-"))
    env = {**os.environ, "PEER_DATABASE": str(data_dir / "peer.db")}
    subprocess.run([python, app_dir / "fastapi_users_app.py"], check=True, env=env)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [python, "-m", "uvicorn", "fastapi_users_app:app", "--port", str(port),
         "--workers", str(os.cpu_count() or 1), "--log-level", "warning"],
        cwd=app_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(base + "/status")
        email = "bench@example.com"
        status, _ = request(base, "POST", "/auth/register", {"email": email, "password": PASSWORD})
        assert status == 201, status
        form = urllib.parse.urlencode({"username": email, "password": PASSWORD}).encode()
        with urllib.request.urlopen(base + "/auth/jwt/login", data=form) as response:
            token = json.loads(response.read())["access_token"]
        rows = []
        for name, path, script in [("GET /status", "/status", "get.lua"),
                                   ("GET /users/me", "/users/me", "bearer.lua")]:
            say(f"wrk fastapi-users {name}")
            rows.append((name, wrk(base, path, script, seconds, connections,
                                   {"BENCH_TOKEN": token})))
        return rows
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def peer_table(release, seconds, connections):
    ours = dict((name, row) for name, _, row in
                load_benchmarks(release, seconds, connections,
                                only=("GET /status", "GET /v1/auth/token-info",
                                      "GET /v1/users/me"))[0])
    theirs = dict(peer_benchmarks(seconds, connections))
    print(f"\nside by side: local-api (embedded store, RS256) and fastapi-users (SQLite, "
          f"HS256, uvicorn, {os.cpu_count()} workers); wrk {seconds} s, {connections} "
          f"connections, {os.cpu_count()} cores")
    print(f"{'latchkey route':26} {'req/s':>9}   {'fastapi-users route':20} {'req/s':>8} {'ratio':>7}")
    for mine, peer in [("GET /status", "GET /status"),
                       ("GET /v1/users/me", "GET /users/me"),
                       ("GET /v1/auth/token-info", "GET /users/me")]:
        rate, peer_rate = ours[mine]["rate"], theirs[peer]["rate"]
        print(f"{mine:26} {rate:9.0f}   {peer:20} {peer_rate:8.0f} {rate / peer_rate:6.1f}x")


def load_table(release, seconds, connections):
    load, peak, limits = load_benchmarks(release, seconds, connections)
    print(f"\nlocal-api ({release}), embedded store; wrk {seconds} s per route, "
          f"{connections} connections; {os.cpu_count()} cores")
    print(f"{'route':28} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, conns, row in load:
        print(f"{name:28} {conns:5} {row['rate']:9.0f} {row['p50']:8.2f} {row['p99']:8.2f} "
              f"{row['errors']:8}")
    print(f"peak resident memory of local-api: {peak:.1f} MiB")

    login = next(row for name, _, row in load if "login" in name)["rate"]
    if limits:
        # Both runs are shown: when they differ much, the machine's speed
        # drifted during the login run and the ratio is only rough.
        (before, cores), (after, _) = limits
        limit = (before + after) / 2
        print(f"\nargon2id limit ({cores} cores, m=19456 KiB, t=2, p=1): {limit:.1f} "
              f"verifications/s (just before login's run {before:.1f}, just after "
              f"{after:.1f})")
        print(f"login throughput / argon2id limit: {login:.1f} / {limit:.1f} = "
              f"{100 * login / limit:.0f} %")


def init_table(release, names, cold_starts):
    init = init_benchmarks(release, [name for name in names if (release / name).exists()],
                           cold_starts)
    x86 = sizes(release, names)
    arm = {name: size for name, size in
           ((name, target_dir() / "lambda" / name / "bootstrap") for name in names)
           if size.exists()}
    print(f"\nLambda binaries under a runtime API stand-in, AWS adapters on moto_server; "
          f"medians of {cold_starts} cold starts")
    print(f"{'binary':24} {'init ms':>8} {'first ms':>9} {'status':>7} {'x86_64 MB':>10} {'arm64 MB':>9}")
    for name, init_ms, first_ms, status in init:
        arm_size = arm.get(name)
        arm_text = f"{arm_size.stat().st_size / 2**20:9.1f}" if arm_size else f"{'-':>9}"
        print(f"{name:24} {init_ms:8.1f} {first_ms:9.1f} {status!s:>7} {x86.get(name, 0):10.1f} {arm_text}")


if __name__ == "__main__":
    main()
