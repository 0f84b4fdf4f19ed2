"""DPoP (RFC 9449) at the ISSO's token endpoint, the same provider code as
gdzwfw_idp's (tests/gdzwfw_idp/test_dpop.py): a proof for the ISSO's token
URL binds the token; one made for gdzwfw_idp's is refused."""

from __future__ import annotations

from tests.hrss_isso.conftest import ISSUER, Isso
from tests.oidc_helpers import DEMO_RP, client_key, dpop_proof

KEY = client_key("isso-dpop")


def test_a_proof_for_the_isso_binds_and_one_for_another_provider_is_refused(isso: Isso) -> None:
    now = isso.clock.timestamp()
    data = {"grant_type": "client_credentials"}
    bound = isso.client.post("/isso/token", data=data, auth=DEMO_RP, headers={"DPoP": dpop_proof(KEY, "POST", ISSUER + "/token", iat=now)})
    assert bound.status_code == 200 and bound.json()["token_type"] == "DPoP", bound.text
    elsewhere = dpop_proof(KEY, "POST", "http://127.0.0.1:8001/token", iat=now)
    refused = isso.client.post("/isso/token", data=data, auth=DEMO_RP, headers={"DPoP": elsewhere})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_dpop_proof"
