import fp from 'fastify-plugin'
import { PresenceAnnouncer } from '../lib/presence-announcer.js'

declare module 'fastify' {
  interface FastifyInstance {
    presenceAnnouncer: PresenceAnnouncer
  }
}

/** One announcer per instance, so that every store built on the app gathers into the same window. */
export const presenceAnnouncerPlugin = fp(
  async (app) => {
    const announcer = new PresenceAnnouncer(app.pg, app.nats, app.log)
    app.decorate('presenceAnnouncer', announcer)
    // onClose: after the presence sweeper's last pass (preClose), before NATS and the pool close.
    app.addHook('onClose', () => announcer.flush())
  },
  { name: 'palisade-chat-presence-announcer', dependencies: ['palisade-db', 'palisade-nats'] }
)
