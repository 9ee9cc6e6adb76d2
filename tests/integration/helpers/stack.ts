import authApp, { type AuthConfig } from '@palisade/auth'
import { startTestStack as startKitStack, type InProcessTestStack, type StartTestStackOptions, type TeardownHost } from '@palisade/testkit'

export type TestStack = InProcessTestStack<AuthConfig>

/**
 * testkit's stack with auth in this process: cheaper than auth as a process (these tests start
 * several services anyway) and it takes settings auth's schema would refuse (short token lifetimes).
 */
export function startTestStack(t: TeardownHost, opts: StartTestStackOptions<AuthConfig> = {}): Promise<TestStack> {
  return startKitStack(t, { ...opts, authApp })
}
