"""``make run``: migrate, load demo data, start the three services on
8001–8003 on SQLite under ``var/`` with a ``manage worker`` beside each
provider, print where to go; Ctrl-C stops all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from devtools.stack import ROOT, Stack, StackConfig, database_urls
from services.gdzwfw_idp.demo import DEMO_PASSWORD


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Ctrl-C in a terminal, or SIGTERM from a supervisor, stops all three
    # (also when started from a shell that ignores SIGINT in the background).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    certs = ROOT / "var" / "certs"
    if not certs.exists():
        # The test PKI gdzwfw_idp trusts in development (网银证书 / CA证书 / licence).
        from devtools.certs import generate

        generate(certs)
        print(f"generated the test PKI in {certs} (PIN 123456)")
    config = StackConfig(
        database_urls=database_urls(base_url=None, var_dir=ROOT / "var"), workers=True, metrics_dir=ROOT / "var" / "metrics"
    )
    stack = Stack(config, log_dir=None)
    stack.migrate()
    stack.start()
    # The 「CA助手」 stand-in the certificate pages look for on loopback.
    helper = subprocess.Popen(
        [sys.executable, "-m", "devtools.ca_helper", "serve", "--certs", str(certs), "--allow-origin", config.url("gdzwfw_idp")],
        cwd=ROOT,
    )
    print(
        f"""
  广东省统一身份认证平台 (gdzwfw_idp)   {config.url("gdzwfw_idp")}/login
  广东人社统一认证 (hrss_isso)          {config.base("hrss_isso")}/login
  失业保险稳岗返还 (refund_portal)      {config.url("refund_portal")}/

  Demo legal persons at gdzwfw_idp (法人登录 → 账号密码), password {DEMO_PASSWORD}:
    demo_l1  三级（原L1）  → the refund portal explains how to upgrade
    demo_l2  四级（原L2）  → admitted
    demo_l3  五级（原L3）  → admitted
  Demo natural person: demo_person (个人登录), same password.
  hrss_isso (password Hrss@demo2026): handler chenxiao (个人登录, acts for 越秀 at L2),
    unit accounts tianhe_keji / yuexiu_maoyi / liwan_zhizao, staff staff_review;
    SMS outbox {config.url("hrss_isso")}/dev/sms
  refund agency staff (password Wg@staff2026): wg_clerk, wg_supervisor, wg_auditor
    at {config.url("refund_portal")}/agency/login
  OIDC client on both providers: demo-rp / demo-rp-secret, redirect http://127.0.0.1:8099/cb
  「CA助手」 for 网银证书 / CA证书 pages: running on loopback (certificate PIN 123456)
  Workers (back-channel logout outbox, purge) beside both providers; metrics at <service>/metrics

  Ctrl-C stops all three.
"""
    )
    try:
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(0.5)
        print("a service stopped; stopping the others")
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C or SIGTERM (supervisors repeat it) must not cut the
        # orderly stop short and leave services running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        helper.terminate()
        stack.stop()
        helper.wait(timeout=10)


if __name__ == "__main__":
    main()
