// Request telemetry hooks and GET /metrics (Prometheus text format).
//
// GET /metrics needs a server-wide API key (any role; Authorization: Bearer <key> works with
// Prometheus' `authorization` scrape setting). Instance keys get 403: the numbers span every
// instance. It exposes only aggregates: requests and latency histograms by route template, method
// and status; real-time writes by kind and result; change-feed subscribers; refresh runs by
// instance and status with the last duration; process metrics.
//
// The hooks record every response for /metrics, and each authenticated request of the real-time
// data API (/api/instances/{id}/data/...) in the per-minute telemetry (services.telemetry), with
// the caller (`caller` query parameter, else the API key's name). Requests refused before a key
// was accepted (401) are counted in /metrics only, so unauthenticated traffic cannot create
// telemetry rows for arbitrary instances.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { HTTP_BUCKETS_S } from '../../realtime/telemetry.js';
import type { Services } from '../../services.js';
import { NdjsonBody } from '../bodies.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the telemetry onSend hook: the OData error code of an error response. */
    telemetryErrorCode?: string;
    /** Set by the telemetry onSend hook for $batch: [succeeded, failed]. */
    telemetryBatch?: [number, number];
  }
}

const DATA_ROUTE = '/api/instances/:instanceId/data/';
const ERROR_CODE = /"code":"([A-Za-z]+)"/;
const BATCH_COUNTS = /"succeeded":(\d+),"failed":(\d+)/;

function batchItemCount(body: unknown): number {
  if (Array.isArray(body)) return body.length;
  if (body instanceof NdjsonBody) {
    let n = 0;
    let start = 0;
    const t = body.text;
    while (start < t.length) {
      let end = t.indexOf('\n', start);
      if (end < 0) end = t.length;
      for (let i = start; i < end; i++) {
        const c = t.charCodeAt(i);
        if (c !== 32 && c !== 9 && c !== 13) {
          n++;
          break;
        }
      }
      start = end + 1;
    }
    return n;
  }
  return 1;
}

/** Adds the recording hooks to the root app (call before routes are registered). */
export function installTelemetryHooks(app: FastifyInstance, services: Services): void {
  const { telemetry } = services;
  const { metrics } = telemetry;
  // Both hooks run on every request: callback style, so that they cost no promise.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (typeof payload === 'string') {
      if (reply.statusCode >= 400) {
        const m = ERROR_CODE.exec(payload.length > 200 ? payload.slice(0, 200) : payload);
        if (m) request.telemetryErrorCode = m[1];
      } else if (request.routeOptions.url?.endsWith('/$batch')) {
        const m = BATCH_COUNTS.exec(payload.length > 200 ? payload.slice(-200) : payload);
        if (m) request.telemetryBatch = [Number(m[1]), Number(m[2])];
      }
    }
    done(null, payload);
  });
  app.addHook('onResponse', (request, reply, done) => {
    recordResponse(request, reply);
    done();
  });
  const recordResponse = (request: FastifyRequest, reply: FastifyReply): void => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    metrics.observeHttp(route, request.method, status, ms / 1000);
    if (!request.apiKey || !route.startsWith(DATA_ROUTE)) return;
    const { instanceId, entityName } = request.params as { instanceId: string; entityName: string };
    const batch = route.endsWith('/$batch');
    const items = batch ? batchItemCount(request.body) : 1;
    const caller = (request.query as { caller?: unknown }).caller;
    const bytesIn = Number(request.headers['content-length']) || 0;
    const bytesOut = Number(reply.getHeader('content-length')) || 0;
    const errorCode = status >= 400 ? (request.telemetryErrorCode ?? String(status)) : '';
    telemetry.record(
      instanceId,
      batch ? 'POST $batch' : request.method,
      entityName,
      typeof caller === 'string' && caller ? caller : request.apiKey.name,
      status,
      errorCode,
      bytesIn,
      bytesOut,
      ms,
      items,
    );
    if (request.method === 'PATCH') metrics.countRealtimeWrites('profile', status < 300, 1);
    else if (request.method === 'POST') {
      const kind = batch && entityName === 'Customer' ? 'profile' : 'activity';
      if (batch && request.telemetryBatch) {
        metrics.countRealtimeWrites(kind, true, request.telemetryBatch[0]);
        metrics.countRealtimeWrites(kind, false, request.telemetryBatch[1]);
      } else metrics.countRealtimeWrites(kind, status < 300, items);
    }
  };
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labels = (l: Record<string, string | number>) =>
  `{${Object.entries(l)
    .map(([k, v]) => `${k}="${escapeLabel(String(v))}"`)
    .join(',')}}`;

/** The Prometheus text exposition of the server's metrics. */
export async function renderMetrics(services: Services): Promise<string> {
  const { metrics } = services.telemetry;
  const out: string[] = [];
  const head = (name: string, type: string, help: string) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  const http = [...metrics.http.values()].sort((a, b) => a.route.localeCompare(b.route) || a.method.localeCompare(b.method) || a.status - b.status);
  head('kindred_http_requests_total', 'counter', 'HTTP requests answered, by route template, method and status.');
  for (const s of http) out.push(`kindred_http_requests_total${labels({ route: s.route, method: s.method, status: s.status })} ${s.count}`);
  head('kindred_http_request_duration_seconds', 'histogram', 'Time to answer HTTP requests, by route template, method and status.');
  for (const s of http) {
    const base = { route: s.route, method: s.method, status: s.status };
    let cumulative = 0;
    HTTP_BUCKETS_S.forEach((le, i) => {
      cumulative += s.buckets[i];
      out.push(`kindred_http_request_duration_seconds_bucket${labels({ ...base, le })} ${cumulative}`);
    });
    out.push(`kindred_http_request_duration_seconds_bucket${labels({ ...base, le: '+Inf' })} ${s.count}`);
    out.push(`kindred_http_request_duration_seconds_sum${labels(base)} ${s.sumSeconds}`);
    out.push(`kindred_http_request_duration_seconds_count${labels(base)} ${s.count}`);
  }

  head('kindred_realtime_writes_total', 'counter', 'Real-time writes (profile updates, activities; $batch items each), by result.');
  for (const kind of ['profile', 'activity']) {
    for (const result of ['success', 'failure']) {
      out.push(`kindred_realtime_writes_total${labels({ kind, result })} ${metrics.realtimeWrites.get(`${kind}\u0000${result}`) ?? 0}`);
    }
  }
  head('kindred_change_feed_subscribers', 'gauge', 'Open change-feed streams (server-sent events).');
  out.push(`kindred_change_feed_subscribers ${metrics.feedSubscribers}`);

  const runs = await services.store.telemetry.runStats();
  head('kindred_refresh_runs', 'gauge', 'Recorded refresh runs, by instance and status.');
  for (const r of runs) out.push(`kindred_refresh_runs${labels({ instance: r.instanceId, status: r.status })} ${r.count}`);
  head('kindred_refresh_last_duration_seconds', 'gauge', 'Duration of the latest finished refresh run, by instance and status.');
  for (const r of runs)
    if (r.lastDurationMs !== null) out.push(`kindred_refresh_last_duration_seconds${labels({ instance: r.instanceId, status: r.status })} ${r.lastDurationMs / 1000}`);

  // Stream consumers (NATS JetStream): messages by outcome, and lag (pending + unacknowledged).
  const consumers = services.consumers.counters();
  head('kindred_consumer_messages_total', 'counter', 'Messages handled by stream consumers, by instance, consumer and outcome.');
  for (const c of consumers)
    for (const [outcome, n] of Object.entries(c.counters)) out.push(`kindred_consumer_messages_total${labels({ instance: c.instanceId, consumer: c.name, outcome })} ${n}`);
  head('kindred_consumer_lag_messages', 'gauge', 'Messages of a stream consumer not yet handled and acknowledged (absent when NATS cannot tell).');
  for (const instanceId of new Set(consumers.map((c) => c.instanceId)))
    for (const st of await services.consumers.status(instanceId))
      if (st.lag !== null) out.push(`kindred_consumer_lag_messages${labels({ instance: instanceId, consumer: st.name })} ${st.lag}`);

  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  head('process_cpu_user_seconds_total', 'counter', 'User CPU time of the process.');
  out.push(`process_cpu_user_seconds_total ${cpu.user / 1e6}`);
  head('process_cpu_system_seconds_total', 'counter', 'System CPU time of the process.');
  out.push(`process_cpu_system_seconds_total ${cpu.system / 1e6}`);
  head('process_resident_memory_bytes', 'gauge', 'Resident memory of the process.');
  out.push(`process_resident_memory_bytes ${mem.rss}`);
  head('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use.');
  out.push(`nodejs_heap_used_bytes ${mem.heapUsed}`);
  head('process_start_time_seconds', 'gauge', 'When the process started (Unix time).');
  out.push(`process_start_time_seconds ${Math.round((Date.now() - process.uptime() * 1000) / 1000)}`);
  return `${out.join('\n')}\n`;
}

export const metricsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/metrics',
    {
      config: needs('Viewer', 'server'),
      schema: {
        // Not part of the API document (which covers /api): an operations endpoint, like /healthz.
        hide: true,
        operationId: 'Metrics_Get',
        summary: 'Prometheus metrics of the server (needs a server-wide API key)',
        tags: ['Operations'],
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }) },
      },
    },
    async (request, reply) => {
      if (request.apiKey?.instanceId !== null)
        throw new ApiError('Forbidden', 'metrics span every instance: use a server-wide API key, not a key of one instance');
      reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
      return renderMetrics(services);
    },
  );
};
