"""Makes `policies.tradesense_rules` importable from the repository root (tools, tests).

Keep this file empty of imports: the engine never imports it, and `policies/__main__.py` (which
starts the policy gRPC server) must never run on import.
"""
