"""A commune office keeps verifying tokens with the last good JWKS while the province issuer is
unreachable — in memory, and from disk after a restart — and says so in the log.

The issuer is a real HTTP server on loopback serving a JWKS; "the WAN goes down" is that server
being shut down."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from services.kit.auth import AuthConfig, Role, TokenVerifier
from services.kit.errors import Unauthorized

LIFESPAN_S = 0.3  # how long a fetched key set is used before it is fetched again


@dataclass
class Issuer:
    """An OIDC issuer's JWKS endpoint on a free loopback port (stoppable: the WAN link)."""

    keys: dict[str, Any] = field(default_factory=dict)
    requests: int = 0
    server: ThreadingHTTPServer | None = None
    port: int = 0
    answer_status: int = 200

    def add_key(self, kid: str) -> rsa.RSAPrivateKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
        self.keys[kid] = {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}
        return private

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/realms/motcua/protocol/openid-connect/certs"

    def start(self) -> Issuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server names it so
                issuer.requests += 1
                body = json.dumps({"keys": list(issuer.keys.values())}).encode()
                self.send_response(issuer.answer_status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    served = Issuer()
    yield served
    served.stop()


def signed(private: rsa.RSAPrivateKey, kid: str, unit_code: str = "30307") -> str:
    now = int(time.time())
    claims = {
        "sub": "officer-1",
        "roles": [Role.RECEPTION_OFFICER.value],
        "unit_code": unit_code,
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})


def verifier(issuer: Issuer, cache: Path | None = None) -> TokenVerifier:
    return TokenVerifier(
        AuthConfig(jwks_url=issuer.url, jwks_cache_path=str(cache or ""), jwks_timeout_s=2, jwks_lifespan_s=LIFESPAN_S)
    )


def test_the_last_good_jwks_is_used_in_memory_while_the_issuer_is_down(
    issuer: Issuer, caplog: pytest.LogCaptureFixture
) -> None:
    key = issuer.add_key("k1")
    issuer.start()
    v = verifier(issuer)
    assert v.verify(signed(key, "k1")).unit_code == "30307"
    assert issuer.requests == 1

    issuer.stop()  # the WAN link drops
    time.sleep(LIFESPAN_S + 0.1)  # the fetched set has expired: the next token needs a fetch
    with caplog.at_level(logging.WARNING, logger="motcua.auth"):
        assert v.verify(signed(key, "k1")).subject == "officer-1"
        assert v.verify(signed(key, "k1")).subject == "officer-1"
    warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(warnings) == 1, "one failed fetch per lifespan, not one per request"
    assert issuer.url in warnings[0].getMessage() and "last good key set" in warnings[0].getMessage()

    # a key the office never saw is refused (nothing to verify it with), and says why
    other = issuer.add_key("k2")
    with pytest.raises(Unauthorized) as refused:
        v.verify(signed(other, "k2"))
    assert refused.value.code == "invalid_token"


def test_a_restart_while_the_issuer_is_down_uses_the_jwks_kept_on_disk(
    issuer: Issuer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "state" / "jwks.json"
    key = issuer.add_key("k1")
    issuer.start()
    assert verifier(issuer, cache).verify(signed(key, "k1")).unit_code == "30307"
    saved = json.loads(cache.read_text())
    assert saved["uri"] == issuer.url and [k["kid"] for k in saved["jwks"]["keys"]] == ["k1"]
    assert "d" not in saved["jwks"]["keys"][0], "public keys only"

    issuer.stop()
    restarted = verifier(issuer, cache)  # the service restarts while the WAN is still down
    with caplog.at_level(logging.WARNING, logger="motcua.auth"):
        assert restarted.verify(signed(key, "k1")).subject == "officer-1"
    assert any("last good key set" in r.getMessage() for r in caplog.records)

    # without the disk copy a restarted office cannot verify anything until the link returns
    with pytest.raises(Unauthorized):
        verifier(issuer).verify(signed(key, "k1"))
    # a copy kept for another issuer is not used
    other_realm = AuthConfig(jwks_url=issuer.url.replace("/motcua/", "/other/"), jwks_cache_path=str(cache))
    with pytest.raises(Unauthorized):
        TokenVerifier(other_realm).verify(signed(key, "k1"))


def test_the_disk_copy_follows_key_rotation_and_an_error_answer_falls_back_too(issuer: Issuer, tmp_path: Path) -> None:
    cache = tmp_path / "jwks.json"
    old = issuer.add_key("k1")
    issuer.start()
    v = verifier(issuer, cache)
    assert v.verify(signed(old, "k1"))
    new = issuer.add_key("k2")  # the issuer rotates: a token with the new key id triggers a refetch
    time.sleep(LIFESPAN_S + 0.1)
    assert v.verify(signed(new, "k2"))
    assert sorted(k["kid"] for k in json.loads(cache.read_text())["jwks"]["keys"]) == ["k1", "k2"]

    issuer.answer_status = 502  # a proxy in front of an issuer that is down
    time.sleep(LIFESPAN_S + 0.1)
    assert v.verify(signed(new, "k2")).unit_code == "30307"
    issuer.stop()
    assert verifier(issuer, cache).verify(signed(new, "k2")).unit_code == "30307"
