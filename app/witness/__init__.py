"""A C2SP tlog-witness, for a partner body to run on its own machine (`shuangsui witness serve`).

It shares with the service only the pure cores (Merkle proofs, signed-note keys,
cosignature/v1); its state is its own SQLite file and its key its own file.
"""
