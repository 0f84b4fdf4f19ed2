"""The Authlib request the adapter builds: the same attributes as Authlib's
own OAuth2Request, and Authlib's transport rule, checked once per origin."""

from __future__ import annotations

import pytest
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import InsecureTransportError

from shared.oauth.adapter import StarletteOAuth2Request


def _ours(uri: str) -> StarletteOAuth2Request:
    return StarletteOAuth2Request(method="POST", uri=uri, headers={}, query=[], form=[("grant_type", "client_credentials")])


def test_attributes_are_authlibs() -> None:
    # Authlib sets these in OAuth2Request.__init__, which ours replaces: an
    # upgrade that adds one must not go unnoticed.
    theirs = OAuth2Request("POST", "https://idp.example/token", headers={})
    missing = set(vars(theirs)) - set(vars(_ours("https://idp.example/token")))
    assert missing == set()


@pytest.mark.parametrize("uri", ["https://idp.example/token", "http://127.0.0.1:8001/token?x=1", "http://localhost/isso/token"])
def test_secure_or_loopback_origins_pass(uri: str) -> None:
    assert _ours(uri).uri == uri


def test_plain_http_to_another_host_is_refused_every_time() -> None:
    for _ in range(2):  # not remembered as checked after a failure
        with pytest.raises(InsecureTransportError):
            _ours("http://idp.example/token")
