"""The transparency log: Merkle trees, their store, signed checkpoints, proofs, sequencer, notary, verifier, audit."""
