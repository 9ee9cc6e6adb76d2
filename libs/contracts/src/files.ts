// Contracts of the files service (HTTP bodies, NATS payloads, events). Filled in by its issue.
export {}
