"""The embedded stack refuses taken ports with a message, not a traceback."""

from __future__ import annotations

import socket

import pytest

from stack.embedded import PortTaken, check_ports, free_port


def test_a_taken_port_is_named_with_its_setting() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(PortTaken) as refused:
            check_ports({"Kafka (PSPX_KAFKA_PORT)": taken, "registry": free_port()})
    message = str(refused.value)
    assert f"Kafka (PSPX_KAFKA_PORT) port {taken}" in message
    assert "registry" not in message


def test_free_ports_pass() -> None:
    check_ports({"a": free_port()})
