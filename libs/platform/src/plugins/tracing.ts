import fp from 'fastify-plugin'
import { context, SpanStatusCode, type Context, type Span } from '@opentelemetry/api'
import { SERVICE_ATTRIBUTE, startServerSpan } from '../tracing/tracing.js'

const SPAN = Symbol('palisade-span')
type Traced = { [SPAN]?: { span: Span; ctx: Context } }

/**
 * One SERVER span per request, named by the route pattern, continuing the `traceparent` the edge
 * sent; the handler runs inside it, so NATS requests and queries it makes are its children. The
 * context is entered again before the handler: the body arrives in the socket's async context, not
 * in the one onRequest ran in.
 */
export const tracingPlugin = fp<{ service: string }>(
  async (app, opts) => {
    app.addHook('onRequest', (request, _reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched'
      const { span, ctx } = startServerSpan(
        `${request.method} ${route}`,
        { [SERVICE_ATTRIBUTE]: opts.service, 'http.request.method': request.method, 'http.route': route },
        request.headers
      )
      ;(request as Traced)[SPAN] = { span, ctx }
      context.with(ctx, done)
    })
    app.addHook('preHandler', (request, _reply, done) => {
      const traced = (request as Traced)[SPAN]
      if (traced) context.with(traced.ctx, done)
      else done()
    })
    app.addHook('onResponse', (request, reply, done) => {
      const traced = (request as Traced)[SPAN]
      if (traced) {
        traced.span.setAttribute('http.response.status_code', reply.statusCode)
        if (reply.statusCode >= 500) traced.span.setStatus({ code: SpanStatusCode.ERROR })
        traced.span.end()
      }
      done()
    })
  },
  { name: 'palisade-tracing' }
)
