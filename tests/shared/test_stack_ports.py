"""The ports devtools.stack hands the services it starts (tests, bench)."""

from __future__ import annotations

import socket

from devtools.stack import free_port


def ephemeral_range() -> tuple[int, int]:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = (int(n) for n in f.read().split())
    return low, high


def test_ports_are_never_handed_out_twice_and_never_from_the_ephemeral_range() -> None:
    # A port from the kernel's ephemeral range could be given again (to an
    # outgoing connection, or to the next stack) before its service binds it.
    low, high = ephemeral_range()
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert not [p for p in ports if low <= p <= high]


def test_a_port_another_server_holds_is_skipped() -> None:
    # Ports are walked upwards: hold the one after the last handed out (one
    # that this machine leaves free, and before the walk wraps).
    held = socket.socket()
    try:
        while True:
            candidate = free_port() + 1
            if candidate >= 32_000:
                continue
            try:
                held.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            break
        held.listen()
        assert free_port() != candidate
    finally:
        held.close()
