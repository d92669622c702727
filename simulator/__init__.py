"""A KuCoin-futures public REST API simulator: deterministic from a seed, on loopback, with faults.

It imports nothing from the platform (orchestration/, models/): ccxt talks to it over HTTP
exactly as it talks to the exchange.
"""
