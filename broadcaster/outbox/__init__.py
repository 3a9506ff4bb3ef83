"""The durable outbox: publications, deliveries and attempts; leases, workers, retries."""
