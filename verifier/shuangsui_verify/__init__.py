"""The auditor's verifier as a small package; `verifier/verify.py` is its command.

Written from the public specifications only (draw-algorithm.md, transparency-log.md
and the C2SP texts it cites) with Python's standard library, plus `cryptography`
for Ed25519 and, when installed, `drand_verify` for the beacon. It imports nothing
of the service.
"""
