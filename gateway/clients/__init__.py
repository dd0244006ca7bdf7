"""Typed HTTP clients of the services: the gateway's only way to their data."""

from gateway.clients.base import Refused, ServiceClient, Unavailable
from gateway.clients.exchange import ExchangeClient
from gateway.clients.matching import MatchingClient
from gateway.clients.registry import RegistryClient

__all__ = [
    "ExchangeClient",
    "MatchingClient",
    "Refused",
    "RegistryClient",
    "ServiceClient",
    "Unavailable",
]
