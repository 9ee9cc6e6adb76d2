// Contracts of the agents service (HTTP bodies, NATS payloads, events). Filled in by its issue.
export {}
