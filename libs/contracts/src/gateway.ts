// Contracts of the gateway service (HTTP bodies, NATS payloads, events). Filled in by its issue.
export {}
