"""The bond as a security token on chain: contracts (GreenBondToken and PersonalInfo, their
deployment and bindings); the service, indexer and API come on top of it.
"""
