/** Probe 5: NATS refuses the anonymous and confines each service to its own subjects. */
import { connectNats } from '@palisade/platform'
import { collectContracts } from '../nats/config.js'
import { check, timed } from './report.js'
import { secretValue } from './secret-value.js'
import type { AttackerTargets, ProbeResult } from './types.js'

export async function probeNats(t: AttackerTargets): Promise<ProbeResult> {
  return timed(
    5,
    'NATS refuses the anonymous and confines each service',
    'no credentials → refused; foreign command subject publish and foreign inbox subscribe → permissions violation',
    async (checks) => {
      const anon = await connectNats({ url: t.natsUrl, name: 'isolation-probe' }).then(
        async (nc) => {
          await nc.close()
          return 'connected'
        },
        (err: Error) => `refused (${err.message.slice(0, 60)})`
      )
      checks.push(check('connect without credentials', 'refused', anon, anon !== 'connected'))
      const someone = Object.keys(t.natsPasswords)[0]
      if (someone) {
        const wrong = await connectNats({ url: t.natsUrl, name: someone, user: someone, pass: 'not-the-password' }).then(
          async (nc) => {
            await nc.close()
            return 'connected'
          },
          () => 'refused'
        )
        checks.push(check(`connect as ${someone} with a wrong password`, 'refused', wrong, wrong === 'refused'))
      }
      const { endpoints, events } = collectContracts()
      const services = Object.keys(t.natsPasswords)
      for (const s of services) {
        const nc = await connectNats({ url: t.natsUrl, name: s, user: s, pass: secretValue(t.natsPasswords[s]!) })
        try {
          const errors: string[] = []
          void (async () => {
            for await (const st of nc.status()) if (st.type === 'error') errors.push(String((st as { error?: Error }).error?.message ?? ''))
          })()
          const foreign = endpoints.find((e) => e.owner !== s && !e.callers.includes(s))
          if (foreign) {
            nc.publish(foreign.subject, '{}')
            await nc.flush().catch(() => {})
          }
          // an event only others may publish (e.g. a forged auth.session.revoked)
          const foreignEvent = events.find((e) => !e.publishers.includes(s) && !e.subject.includes('*'))
          if (foreignEvent) {
            nc.publish(foreignEvent.subject, '{}')
            await nc.flush().catch(() => {})
          }
          const other = services.find((o) => o !== s) ?? 'auth'
          const inbox = `_INBOX_${other}.>`
          let subErr = ''
          nc.subscribe(inbox, {
            callback: (err) => {
              subErr ||= err ? err.message : 'RECEIVED A MESSAGE'
            }
          })
          await nc.flush().catch(() => {})
          await new Promise((r) => setTimeout(r, 300))
          if (foreign) {
            const seen = errors.find((e) => /permissions violation/i.test(e) && e.includes(foreign.subject))
            checks.push(
              check(`${s} publishes to ${foreign.owner}'s ${foreign.subject}`, 'permissions violation', seen ? 'permissions violation' : 'accepted', !!seen)
            )
          }
          if (foreignEvent) {
            const seen = errors.find((e) => /permissions violation/i.test(e) && e.includes(foreignEvent.subject))
            checks.push(check(`${s} publishes the event ${foreignEvent.subject}`, 'permissions violation', seen ? 'permissions violation' : 'accepted', !!seen))
          }
          checks.push(
            check(
              `${s} subscribes to ${inbox}`,
              'permissions violation',
              subErr ? (/permissions violation/i.test(subErr) ? 'permissions violation' : subErr) : 'accepted',
              /permissions violation/i.test(subErr)
            )
          )
        } finally {
          await nc.close().catch(() => {})
        }
      }
    }
  )
}
