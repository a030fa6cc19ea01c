"""One controller per domain."""
