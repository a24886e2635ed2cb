"""KMS `GetPublicKey` and `Sign` with `MessageType=DIGEST`, which moto does
not implement, as AWS documents them: the message is the 32-byte SHA-256
digest the caller computed, and KMS signs it without hashing it again
(RSASSA_PKCS1_V1_5_SHA_256 over an RSA_2048 key, ECDSA_SHA_256 over an
ECC_NIST_P256 key, DER-encoded). A message of another length is a
ValidationException, as on AWS.

It holds two keys, "rsa" and "ec" (ARNs arn:aws:kms:us-east-1:111122223333:key/rsa
and .../ec), and records every Sign request as sent: `GET /__requests`.

Usage: python kms_digest.py PORT
"""

import base64
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

ARN = "arn:aws:kms:us-east-1:111122223333:key/"
KEYS = {
    "rsa": ("RSA_2048", "RSASSA_PKCS1_V1_5_SHA_256", rsa.generate_private_key(65537, 2048)),
    "ec": ("ECC_NIST_P256", "ECDSA_SHA_256", ec.generate_private_key(ec.SECP256R1())),
}
REQUESTS = []
LOCK = threading.Lock()


def key_of(key_id):
    name = key_id.removeprefix(ARN)
    if name not in KEYS:
        raise LookupError(f"Key '{key_id}' does not exist")
    return name, KEYS[name]


def get_public_key(request):
    name, (spec, algorithm, key) = key_of(request["KeyId"])
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"KeyId": ARN + name, "KeySpec": spec, "KeyUsage": "SIGN_VERIFY",
            "PublicKey": base64.b64encode(der).decode(), "SigningAlgorithms": [algorithm]}


def sign(request):
    with LOCK:
        REQUESTS.append(request)
    name, (_, algorithm, key) = key_of(request["KeyId"])
    if request.get("SigningAlgorithm") != algorithm:
        raise ValueError(f"{request.get('SigningAlgorithm')} is not valid for key {name}")
    message = base64.b64decode(request["Message"])
    if request.get("MessageType") != "DIGEST":
        raise ValueError("this stand-in signs digests only")
    if len(message) != 32:
        raise ValueError("Digest is invalid length for algorithm " + algorithm)
    prehashed = utils.Prehashed(hashes.SHA256())
    if name == "rsa":
        signature = key.sign(message, padding.PKCS1v15(), prehashed)
    else:
        signature = key.sign(message, ec.ECDSA(prehashed))
    return {"KeyId": ARN + name, "Signature": base64.b64encode(signature).decode(),
            "SigningAlgorithm": algorithm}


OPERATIONS = {"TrentService.GetPublicKey": get_public_key, "TrentService.Sign": sign}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        with LOCK:
            self.reply(200, REQUESTS)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        operation = OPERATIONS.get(self.headers.get("x-amz-target", ""))
        if operation is None:
            return self.reply(400, {"__type": "UnsupportedOperationException"})
        try:
            self.reply(200, operation(body))
        except LookupError as error:
            self.reply(400, {"__type": "NotFoundException", "message": str(error)})
        except ValueError as error:
            self.reply(400, {"__type": "ValidationException", "message": str(error)})


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
