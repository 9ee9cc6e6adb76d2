import { fileURLToPath } from 'node:url'
import fp from 'fastify-plugin'
import multipart from '@fastify/multipart'
import type { FastifyPluginAsync } from 'fastify'
import { ChatMembershipChanged } from '@palisade/contracts'
import { completeConfig, natsSubscribe, platformPlugin } from '@palisade/platform'
import { Audit } from './audit.js'
import { checkScanConfig, FilesConfigSchema, keyRingOf, storageDirOf, type FilesAppConfig } from './config.js'
import { FileVault } from './crypto/vault.js'
import type { FilesContext } from './context.js'
import { FilesRepo } from './db/repo.js'
import { serveFilesNats } from './nats/handlers.js'
import { contentRoutes } from './routes/content.js'
import { filesRoutes } from './routes/files.js'
import { shareOpenRoutes, shareRoutes } from './routes/shares.js'
import { SharesRepo } from './shares/repo.js'
import { scanAudience } from './scan/notify.js'
import { ClamdScanner, ScanWorker } from './scan/worker.js'
import { Sweeper } from './retention/sweeper.js'
import { DiskBlobStore } from './storage/disk-store.js'
import { multipartLimits } from './upload/receive.js'

export { FilesConfigSchema, type FilesConfig, type FilesAppConfig } from './config.js'
export type { FilesContext } from './context.js'

const migrationsFolder = fileURLToPath(new URL('../drizzle', import.meta.url))

declare module 'fastify' {
  interface FastifyInstance {
    /** the files service's own state (tests inspect the store and the scanner through it) */
    files: FilesContext
  }
}

/**
 * The files service: uploads streamed to a blob store keyed by server-made ids, sniffed types on an
 * allow list, per-user quotas, sharing with conversations (membership asked from chat), downloads
 * that can never run as part of our origin, and an optional clamd scanner.
 */
const filesApp: FastifyPluginAsync<{ config: FilesAppConfig }> = async (app, opts) => {
  const config = completeConfig(FilesConfigSchema, opts.config)
  checkScanConfig(config)
  const store = new DiskBlobStore(storageDirOf(config))

  await app.register(platformPlugin, { service: 'files', config, migrationsFolder, outbox: true, sharedRateLimits: 'routes' })
  await app.register(multipart, { limits: multipartLimits(config.FILES_MAX_BYTES), throwFileSizeLimit: false })

  const stale = await store.init()
  if (stale > 0) app.log.warn({ removed: stale }, 'removed temp files left by an earlier process')

  const repo = new FilesRepo(app.db)
  const vault = new FileVault(
    keyRingOf(config, (msg) => app.log.warn(msg)),
    store
  )
  const audit = new Audit(app.db, app.log)
  const scanner =
    config.FILES_SCAN_MODE === 'clamd'
      ? new ScanWorker(repo, store, vault, audit, new ClamdScanner(config.FILES_CLAMD_ADDRESS!, config.FILES_CLAMD_TIMEOUT_MS), app.log, {
          retryMs: config.FILES_SCAN_RETRY_SECONDS * 1000,
          leaseMs: config.FILES_CLAMD_TIMEOUT_MS + 30_000,
          outbox: app.outbox,
          audience: scanAudience(app.nats, app.log)
        })
      : undefined
  const shares = new SharesRepo(app.db)
  const ctx: FilesContext = { config, store, repo, vault, audit, scanner, sweeper: undefined, shares }
  app.decorate('files', ctx)

  await app.register(filesRoutes, { prefix: '/api/files', ctx })
  await app.register(contentRoutes, { prefix: '/api/files', ctx })
  await app.register(shareRoutes, { prefix: '/api/files', ctx })
  await app.register(shareOpenRoutes, { ctx })

  const subs = serveFilesNats(app, ctx)
  // A deleted conversation takes its files with it (soft delete; one instance of the queue group acts).
  const membership = natsSubscribe(
    app.nats,
    ChatMembershipChanged,
    async (ev) => {
      if (ev.type !== 'conversation.deleted') return
      const n = await repo.softDeleteConversation(ev.conversationId.toLowerCase())
      if (n > 0) app.log.info({ conversationId: ev.conversationId, files: n }, "deleted conversation's files soft-deleted")
    },
    { log: app.log, queue: 'files' }
  )
  const sweeper = new Sweeper(repo, shares, store, app.pg, app.log, config.FILES_RETENTION_DAYS)
  ctx.sweeper = sweeper
  app.addHook('onReady', async () => {
    scanner?.start()
    sweeper.start()
  })
  app.addHook('onClose', async () => {
    for (const sub of subs) sub.unsubscribe()
    membership.unsubscribe()
    await scanner?.stop()
    await sweeper.stop()
  })
}

export default fp(filesApp, { name: 'files-app', fastify: '5.x' })
