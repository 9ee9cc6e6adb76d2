// Contracts of the chat service (HTTP bodies, NATS payloads, events). Filled in by its issue.
export {}
