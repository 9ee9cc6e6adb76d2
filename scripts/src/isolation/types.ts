/**
 * What the probes are pointed at. The same shape serves both modes: Mode 1 (network namespaces,
 * scripts/src/isolation/runner.ts) writes it with namespace addresses, Mode 2 (compose,
 * deploy/isolation/targets.compose.json) with compose service names. Any string value may be
 * `file:<path>` to read it from a file (compose secrets).
 */
export interface HostPort {
  name: string
  host: string
  port: number
}

export interface ClientTargets {
  /** the edge as the client sees it, e.g. `http://10.231.1.1:8080` */
  edgeUrl: string
  /** Origin the services accept (ALLOWED_ORIGINS) */
  origin: string
  /** accept a self-signed edge certificate (compose: gen:secrets writes one) */
  insecureTls?: boolean
  /** addresses that must not answer from the client network: every service, NATS, PostgreSQL */
  mustBeUnreachable: HostPort[]
}

export interface AttackerTargets {
  /** base URL of each service as a sibling on the internal network sees it */
  services: Record<string, string>
  /** auth's base URL (the attacker registers the probe users there and reads assertions from /auth/verify) */
  authUrl: string
  origin: string
  natsUrl: string
  /** NATS password per service user (`file:` allowed) */
  natsPasswords: Record<string, string>
  /** connection URL of each service's own PostgreSQL role (`file:` allowed) */
  databaseUrls: Record<string, string>
  /** PEM of auth's signing key (`file:` allowed): lets probe 4 mint an expired but otherwise valid assertion */
  signingKey?: string
  issuer?: string
  /** addresses on the client network that internal hosts must not reach (probe 7) */
  egress: HostPort[]
}

export interface Targets {
  client?: ClientTargets
  attacker?: AttackerTargets
}

/** One probe's verdict. `checks` are its individual observations (a probe fails if any fails). */
export interface Check {
  what: string
  expected: string
  observed: string
  pass: boolean
}

export interface ProbeResult {
  id: number
  name: string
  expected: string
  observed: string
  pass: boolean
  checks: Check[]
  ms: number
}

/** What the attacker phase hands to the client phase: the probe users (see probes.ts, probe 2). */
export interface ProbeState {
  victim: { userId: string; sessionId: string; assertions: Record<string, string>; conversationId?: string }
}
