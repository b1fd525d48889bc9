#!/usr/bin/env python3
"""Writes standard-webhooks.json, the Standard Webhooks conformance suite.

Every expected value is computed here, outside webhook-kit: HMAC-SHA256 with Python's
`hmac` and `hashlib`, Ed25519 with the `cryptography` package, base64 with `base64`.
The verdicts and error codes follow the verification rules written in README.md.

    python3 conformance/generate.py           # rewrite the file
    python3 conformance/generate.py --check   # exit 1 if the file is not what this writes
"""

import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

OUT = Path(__file__).with_name("standard-webhooks.json")
T = 1614265330
MAX_HEADER_LEN = 8192
MAX_SIGNATURES = 16
I64_MAX = 2**63 - 1
# The range Python's datetime can represent (the standardwebhooks library needs it).
DATETIME_MAX = 253402300799


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def whsec(key: bytes) -> str:
    return "whsec_" + b64(key)


def v1(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1," + b64(mac.digest())


class Ed25519Key:
    def __init__(self, seed: bytes):
        self.private = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_bytes = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.whpk = "whpk_" + b64(self.public_bytes)

    def v1a(self, msg_id: str, timestamp: str, body: bytes) -> str:
        message = msg_id.encode() + b"." + timestamp.encode() + b"." + body
        return "v1a," + b64(self.private.sign(message))


def key_of(length: int, salt: int = 0) -> bytes:
    return bytes((i * 7 + salt * 31 + 1) % 256 for i in range(length))


KEY = key_of(32)
OTHER = key_of(32, salt=1)
SVIX_KEYPAIR = base64.b64decode(
    "6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg=="
)
SVIX_ED = Ed25519Key(SVIX_KEYPAIR[:32])
assert SVIX_ED.public_bytes == SVIX_KEYPAIR[32:], "Svix's keypair: public half of its seed"
ED = Ed25519Key(hashlib.sha256(b"webhook-kit conformance key 1").digest())
ED_OTHER = Ed25519Key(hashlib.sha256(b"webhook-kit conformance key 2").digest())
BODY = b'{"type":"invoice.paid","data":{"id":"inv_1"}}'

cases = []


def canonical_timestamp(text: str) -> bool:
    return text.isascii() and text.isdigit() and (text == "0" or not text.startswith("0")) and int(text) <= I64_MAX


def valid_id(text: str) -> bool:
    return 0 < len(text) <= MAX_HEADER_LEN and all(33 <= ord(c) <= 126 and c != "." for c in text)


def python_expressible(secrets, public_keys, headers, body, now, tolerance) -> bool:
    """Whether the Python `standardwebhooks` library can verify this case as we do: one
    v1 secret, its fixed 5-minute tolerance, a UTF-8 body, no repeated header, a
    canonical in-range timestamp, a well-formed id, and tokens it can split and decode."""
    if public_keys or len(secrets) != 1 or tolerance != 300:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    names = [name.lower() for name, _ in headers]
    if len(names) != len(set(names)):
        return False
    values = dict((name.lower(), value) for name, value in headers)
    if any(len(value) > MAX_HEADER_LEN for value in values.values()):
        return False
    if not 0 <= now <= DATETIME_MAX:
        return False
    stamp = values.get("webhook-timestamp")
    if stamp is not None and not (canonical_timestamp(stamp) and int(stamp) <= DATETIME_MAX):
        return False
    msg_id = values.get("webhook-id")
    if msg_id is not None and not valid_id(msg_id):
        return False
    signature = values.get("webhook-signature")
    if signature is not None:
        tokens = signature.split(" ")
        if len(tokens) > MAX_SIGNATURES:
            return False
        for token in tokens:
            parts = token.split(",")
            if len(parts) != 2:
                return False
            if parts[0] == "v1":
                try:
                    decoded = base64.b64decode(parts[1], validate=True)
                except ValueError:
                    return False
                if len(decoded) != 32 or b64(decoded) != parts[1]:
                    return False
    return True


def case(name, description, *, headers, body=BODY, secrets=(), public_keys=(), now=T, tolerance=300, error=None):
    headers = [list(pair) for pair in headers]
    cases.append(
        {
            "name": name,
            "description": description,
            "secrets": list(secrets),
            "public_keys": list(public_keys),
            "headers": headers,
            "body_hex": body.hex(),
            "now": now,
            "tolerance": tolerance,
            "expected": {"valid": error is None, **({"error": error} if error else {})},
            "python_standardwebhooks": python_expressible(secrets, public_keys, headers, body, now, tolerance),
        }
    )


def signed(signature, msg_id="msg_1", timestamp=str(T)):
    return [("webhook-id", msg_id), ("webhook-timestamp", timestamp), ("webhook-signature", signature)]


SIG = v1(KEY, "msg_1", str(T), BODY)

# Published known answers.
case(
    "known-answer-standard-webhooks",
    "The Standard Webhooks reference libraries' 'sign function works' vector (also Svix's documentation).",
    secrets=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    headers=signed("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330"),
    body=b'{"test": 2432232314}',
    now=1614265330,
)
case(
    "known-answer-standard-webhooks-rust",
    "The Standard Webhooks Rust library's test_sign vector.",
    secrets=["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"],
    headers=signed("v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=", "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", "1649367553"),
    body=b'{"email":"test@example.com","username":"test_user"}',
    now=1649367553,
)
case(
    "known-answer-svix-v1a",
    "Svix's server test test_asymmetric_key_signing: Ed25519 keypair, v1a signature.",
    public_keys=["whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4="],
    headers=signed(
        "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
    ),
    body=b'{"test": 2432232314}',
    now=1614265330,
)
assert SVIX_ED.v1a("msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}') == cases[-1]["headers"][2][1]

# Key lengths and secret forms.
for length in (24, 32, 64):
    key = key_of(length, salt=length)
    case(f"key-{length}-bytes", f"A {length}-byte key.", secrets=[whsec(key)], headers=signed(v1(key, "msg_1", str(T), BODY)))
key16 = key_of(16, salt=16)
case("key-16-bytes", "A 16-byte key, as some senders issue (read leniently).", secrets=[whsec(key16)], headers=signed(v1(key16, "msg_1", str(T), BODY)))
key100 = key_of(100, salt=100)
case("key-100-bytes", "A key longer than SHA-256's block, hashed first by HMAC.", secrets=[whsec(key100)], headers=signed(v1(key100, "msg_1", str(T), BODY)))
case("secret-without-prefix", "The secret without `whsec_`.", secrets=[b64(KEY)], headers=signed(SIG))
key20 = key_of(20, salt=20)
case("secret-unpadded", "The secret's base64 without its padding.", secrets=["whsec_" + b64(key20).rstrip("=")], headers=signed(v1(key20, "msg_1", str(T), BODY)))

# Several secrets and tokens.
case("second-of-two-secrets", "The verifier holds two secrets; the delivery is signed with the second.", secrets=[whsec(OTHER), whsec(KEY)], headers=signed(SIG))
case("second-of-two-tokens", "A wrong v1 token, then the right one.", secrets=[whsec(KEY)], headers=signed(v1(OTHER, "msg_1", str(T), BODY) + " " + SIG))
case("two-wrong-tokens", "Two v1 tokens, neither by the verifier's secret.", secrets=[whsec(KEY)], headers=signed(v1(OTHER, "msg_1", str(T), BODY) + " " + v1(key16, "msg_1", str(T), BODY)), error="signature_mismatch")
case("wrong-secret", "Signed with another secret.", secrets=[whsec(OTHER)], headers=signed(SIG), error="signature_mismatch")
case("tampered-body", "The body differs by one byte.", secrets=[whsec(KEY)], headers=signed(SIG), body=BODY.replace(b"inv_1", b"inv_2"), error="signature_mismatch")
case("tampered-id", "The signature is for another message id.", secrets=[whsec(KEY)], headers=signed(SIG, msg_id="msg_2"), error="signature_mismatch")
case("tampered-timestamp", "The signature is for another timestamp.", secrets=[whsec(KEY)], headers=signed(SIG, timestamp=str(T + 1)), error="signature_mismatch")
case("body-with-trailing-newline", "A newline added after the signed body.", secrets=[whsec(KEY)], headers=signed(SIG), body=BODY + b"\n", error="signature_mismatch")

# Unknown versions beside valid ones.
case("unknown-version-beside-valid", "A v2 token before the valid v1 token.", secrets=[whsec(KEY)], headers=signed("v2,AAAA " + SIG))
case("v1a-token-without-public-key", "A v1a token the verifier holds no key for, beside a valid v1.", secrets=[whsec(KEY)], headers=signed(ED.v1a("msg_1", str(T), BODY) + " " + SIG))
case("only-unknown-versions", "Only tokens of versions the verifier does not check.", secrets=[whsec(KEY)], headers=signed("v2," + SIG[3:] + " v0," + SIG[3:]), error="signature_mismatch")
case("token-without-comma", "A token without a version, beside a valid one.", secrets=[whsec(KEY)], headers=signed("garbage " + SIG))
case("upper-case-version", "`V1` is not `v1`.", secrets=[whsec(KEY)], headers=signed("V1," + SIG[3:]), error="signature_mismatch")

# Empty and truncated signatures.
case("empty-v1-token", "`v1,` with nothing after it.", secrets=[whsec(KEY)], headers=signed("v1,"), error="signature_mismatch")
case("truncated-signature", "The last character of the base64 missing.", secrets=[whsec(KEY)], headers=signed(SIG[:-1]), error="signature_mismatch")
case("truncated-tag", "The base64 of the tag's first 31 bytes.", secrets=[whsec(KEY)], headers=signed("v1," + b64(base64.b64decode(SIG[3:])[:31])), error="signature_mismatch")
case("extra-character", "One character appended to the base64.", secrets=[whsec(KEY)], headers=signed(SIG + "A"), error="signature_mismatch")
case("unpadded-signature", "The tag's base64 without its `=`.", secrets=[whsec(KEY)], headers=signed(SIG.rstrip("=")), error="signature_mismatch")
flipped = bytearray(base64.b64decode(SIG[3:]))
flipped[0] ^= 1
case("flipped-bit", "One bit of the tag flipped.", secrets=[whsec(KEY)], headers=signed("v1," + b64(bytes(flipped))), error="signature_mismatch")
case("empty-signature-header", "An empty signature header.", secrets=[whsec(KEY)], headers=signed(""), error="header_malformed")
case("blank-signature-header", "A signature header of spaces only.", secrets=[whsec(KEY)], headers=signed("   "), error="header_malformed")
case("extra-spaces-between-tokens", "Tokens separated by several spaces.", secrets=[whsec(KEY)], headers=signed("v2,x   " + SIG + "  "))

# Tolerance edges.
case("tolerance-exactly-old", "The timestamp exactly the tolerance in the past.", secrets=[whsec(KEY)], headers=signed(SIG), now=T + 300)
case("tolerance-one-second-old", "One second past the tolerance, in the past.", secrets=[whsec(KEY)], headers=signed(SIG), now=T + 301, error="timestamp_too_old")
case("tolerance-exactly-new", "The timestamp exactly the tolerance in the future.", secrets=[whsec(KEY)], headers=signed(SIG), now=T - 300)
case("tolerance-one-second-new", "One second past the tolerance, in the future.", secrets=[whsec(KEY)], headers=signed(SIG), now=T - 301, error="timestamp_too_new")
case("tolerance-zero-same-second", "A tolerance of 0 and the same second.", secrets=[whsec(KEY)], headers=signed(SIG), tolerance=0)
case("tolerance-zero-one-second-old", "A tolerance of 0, one second later.", secrets=[whsec(KEY)], headers=signed(SIG), now=T + 1, tolerance=0, error="timestamp_too_old")
case("tolerance-60-one-second-old", "A tolerance of 60 s, 61 s later.", secrets=[whsec(KEY)], headers=signed(SIG), now=T + 61, tolerance=60, error="timestamp_too_old")
case("tolerance-checked-before-signature", "An old timestamp and a wrong signature: the timestamp is reported.", secrets=[whsec(OTHER)], headers=signed(SIG), now=T + 1000, error="timestamp_too_old")

# Missing, repeated and differently spelled headers.
case("missing-id", "No webhook-id.", secrets=[whsec(KEY)], headers=signed(SIG)[1:], error="header_missing")
case("missing-timestamp", "No webhook-timestamp.", secrets=[whsec(KEY)], headers=[signed(SIG)[0], signed(SIG)[2]], error="header_missing")
case("missing-signature", "No webhook-signature.", secrets=[whsec(KEY)], headers=signed(SIG)[:2], error="header_missing")
case("duplicate-id", "webhook-id twice.", secrets=[whsec(KEY)], headers=signed(SIG) + [("webhook-id", "msg_1")], error="header_malformed")
case("duplicate-timestamp", "webhook-timestamp twice.", secrets=[whsec(KEY)], headers=signed(SIG) + [("webhook-timestamp", str(T))], error="header_malformed")
case("duplicate-signature", "webhook-signature twice, both valid.", secrets=[whsec(KEY)], headers=signed(SIG) + [("webhook-signature", SIG)], error="header_malformed")
case("mixed-case-header-names", "Header names match case-insensitively.", secrets=[whsec(KEY)], headers=[("Webhook-Id", "msg_1"), ("WEBHOOK-TIMESTAMP", str(T)), ("webhook-Signature", SIG)])
case("other-headers-ignored", "Unrelated headers around the three.", secrets=[whsec(KEY)], headers=[("content-type", "application/json")] + signed(SIG) + [("svix-id", "msg_x")])

# Oversized and malformed headers.
case("oversized-signature-header", "A signature header of 8,193 bytes.", secrets=[whsec(KEY)], headers=signed(SIG + " " + "v2," + "A" * (MAX_HEADER_LEN - len(SIG) - 3)), error="header_too_large")
case("signature-header-at-limit", "A signature header of exactly 8,192 bytes holding the valid token.", secrets=[whsec(KEY)], headers=signed(SIG + " " + "v2," + "A" * (MAX_HEADER_LEN - len(SIG) - 4)))
case("oversized-id", "A message id of 8,193 bytes.", secrets=[whsec(KEY)], headers=signed(SIG, msg_id="m" * (MAX_HEADER_LEN + 1)), error="header_too_large")
case("seventeen-tokens", "17 tokens, one more than allowed.", secrets=[whsec(KEY)], headers=signed(" ".join(["v2,x"] * 16 + [SIG])), error="too_many_signatures")
case("sixteen-tokens", "16 tokens, the last valid.", secrets=[whsec(KEY)], headers=signed(" ".join(["v2,x"] * 15 + [SIG])))
case("non-ascii-signature-header", "A non-ASCII character in the signature header.", secrets=[whsec(KEY)], headers=signed(SIG + " v1,é"), error="header_malformed")
case("control-character-in-signature-header", "A tab in the signature header.", secrets=[whsec(KEY)], headers=signed(SIG + "\tv1,x"), error="header_malformed")
dot_sig = v1(KEY, "msg.1", str(T), BODY)
case("id-with-dot", "A message id holding `.`, which would make the signed content ambiguous.", secrets=[whsec(KEY)], headers=signed(dot_sig, msg_id="msg.1"), error="header_malformed")
case("id-with-space", "A message id holding a space.", secrets=[whsec(KEY)], headers=signed(SIG, msg_id="msg 1"), error="header_malformed")
case("empty-id", "An empty message id.", secrets=[whsec(KEY)], headers=signed(SIG, msg_id=""), error="header_malformed")

# Timestamps with signs, leading zeros and overflow.
for name, text in [
    ("timestamp-plus-sign", f"+{T}"),
    ("timestamp-minus-sign", f"-{T}"),
    ("timestamp-leading-zero", f"0{T}"),
    ("timestamp-overflow", str(I64_MAX + 1)),
    ("timestamp-twenty-digits", "9" * 20),
    ("timestamp-decimal", f"{T}.0"),
    ("timestamp-leading-space", f" {T}"),
    ("timestamp-empty", ""),
    ("timestamp-exponent", "1.6e9"),
]:
    case(name, f"The timestamp {text!r}.", secrets=[whsec(KEY)], headers=signed(v1(KEY, "msg_1", text, BODY), timestamp=text), error="timestamp_invalid")
case("timestamp-zero", "The timestamp 0, at clock 0.", secrets=[whsec(KEY)], headers=signed(v1(KEY, "msg_1", "0", BODY), timestamp="0"), now=0)
case("timestamp-i64-max", "The largest timestamp, at the same clock.", secrets=[whsec(KEY)], headers=signed(v1(KEY, "msg_1", str(I64_MAX), BODY), timestamp=str(I64_MAX)), now=I64_MAX)

# Bodies.
case("empty-body", "An empty body.", secrets=[whsec(KEY)], headers=signed(v1(KEY, "msg_1", str(T), b"")), body=b"")
binary = bytes([0xFF, 0x00, 0xFE, 0x80, 0x2E])
case("non-utf8-body", "A body that is not UTF-8.", secrets=[whsec(KEY)], headers=signed(v1(KEY, "msg_1", str(T), binary)), body=binary)
large = b"x" * 8192
case("large-body", "An 8 KiB body.", secrets=[whsec(KEY)], headers=signed(v1(KEY, "msg_1", str(T), large)), body=large)

# v1a.
V1A = ED.v1a("msg_1", str(T), BODY)
case("v1a-valid", "An Ed25519 signature by the verifier's public key.", public_keys=[ED.whpk], headers=signed(V1A))
case("v1a-beside-v1", "One header with a v1 and a v1a token; the verifier holds only the public key.", public_keys=[ED.whpk], headers=signed(SIG + " " + V1A))
case("v1a-secret-and-key-only-v1a", "The verifier holds a secret and a public key; the header has only the v1a token.", secrets=[whsec(KEY)], public_keys=[ED.whpk], headers=signed(V1A))
case("v1a-secret-and-key-only-v1", "The verifier holds a secret and a public key; the header has only the v1 token.", secrets=[whsec(KEY)], public_keys=[ED.whpk], headers=signed(SIG))
case("v1a-second-of-two-keys", "The verifier holds two public keys; the delivery is signed with the second.", public_keys=[ED_OTHER.whpk, ED.whpk], headers=signed(V1A))
case("v1a-other-key", "Signed by another key.", public_keys=[ED_OTHER.whpk], headers=signed(V1A), error="signature_mismatch")
case("v1a-tampered-body", "The body differs by one byte.", public_keys=[ED.whpk], headers=signed(V1A), body=BODY.replace(b"inv_1", b"inv_2"), error="signature_mismatch")
case("v1a-truncated", "The base64 of the signature missing its last character.", public_keys=[ED.whpk], headers=signed(V1A[:-1]), error="signature_mismatch")
case("v1a-empty", "`v1a,` with nothing after it.", public_keys=[ED.whpk], headers=signed("v1a,"), error="signature_mismatch")
case("v1a-only-v1-token", "The verifier holds only a public key; the header has only a v1 token.", public_keys=[ED.whpk], headers=signed(SIG), error="signature_mismatch")
case("v1a-tolerance-one-second-old", "A valid v1a signature one second past the tolerance.", public_keys=[ED.whpk], headers=signed(V1A), now=T + 301, error="timestamp_too_old")
case("v1a-non-utf8-body", "A v1a signature over a body that is not UTF-8.", public_keys=[ED.whpk], headers=signed(ED.v1a("msg_1", str(T), binary)), body=binary)


def render() -> str:
    document = {
        "format": "standard-webhooks-conformance",
        "version": 1,
        "generator": "conformance/generate.py",
        "cases": cases,
    }
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


if __name__ == "__main__":
    names = [c["name"] for c in cases]
    sizes = {c["name"]: len(c["headers"][2][1]) for c in cases if c["name"].startswith(("oversized-signature", "signature-header-at"))}
    assert sizes == {"oversized-signature-header": MAX_HEADER_LEN + 1, "signature-header-at-limit": MAX_HEADER_LEN}, sizes
    assert len(names) == len(set(names)), "case names are unique"
    text = render()
    if "--check" in sys.argv[1:]:
        if OUT.read_text() != text:
            sys.exit(f"{OUT.name} is not what {Path(__file__).name} writes: run it and commit the result")
        print(f"{OUT.name}: {len(cases)} cases, as generated")
    else:
        OUT.write_text(text)
        print(f"wrote {len(cases)} cases to {OUT}")
