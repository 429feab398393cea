"""The scan engine: bounded concurrency, rate limits, timeouts, checkpoints."""
