// The gateway's WebSocket close codes (their meaning: gateway.ts). A module without imports, exported
// as `@palisade/contracts/gateway-close`, so the browser bundle takes these numbers without TypeBox
// and every schema.
export const GATEWAY_CLOSE = {
  normal: 1000,
  goingAway: 1001,
  policyViolation: 1008,
  messageTooBig: 1009,
  internalError: 1011,
  tryAgainLater: 1013,
  reconnect: 4000,
  sessionRevoked: 4001,
  identityExpired: 4002,
  tooManyConnections: 4003
} as const
export type GatewayCloseCode = (typeof GATEWAY_CLOSE)[keyof typeof GATEWAY_CLOSE]
