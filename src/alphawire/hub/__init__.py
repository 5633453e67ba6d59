"""The framework-free core: local subscriptions, per-connection queues, publishing, stats."""
