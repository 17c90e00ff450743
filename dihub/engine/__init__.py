"""The sync engine: one checkpointed pass per (source, stream, partition)."""
