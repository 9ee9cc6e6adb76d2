/** The browser side of passkeys (@simplewebauthn/browser): options from auth in, the JSON answer out. */
import { browserSupportsWebAuthn, startAuthentication, startRegistration } from '@simplewebauthn/browser'

export const passkeysSupported = (): boolean => browserSupportsWebAuthn()

export async function createPasskey(options: unknown): Promise<unknown> {
  return startRegistration({ optionsJSON: options as Parameters<typeof startRegistration>[0]['optionsJSON'] })
}

export async function usePasskey(options: unknown): Promise<unknown> {
  return startAuthentication({ optionsJSON: options as Parameters<typeof startAuthentication>[0]['optionsJSON'] })
}
