// Telemetry of the real-time API.
//
// GET /api/instances/{instanceId}/telemetry/realtime?from=&to=&interval=&groupBy=   (Contributor+)
//   from, to: RFC 3339 date-times (default: the last hour up to now); at most 30 days apart and
//     within the 30 days kept.
//   interval: Nm | Nh | Nd (e.g. 1m, 5m, 1h, 1d); default: the smallest of 1m 2m 5m 10m 15m 30m 1h 2h
//     3h 6h 12h 1d that gives at most 500 buckets; at most 1000 buckets.
//   groupBy: none (default) | method | entity | caller | result | errorCode
//     method: GET, PATCH, POST, 'POST $batch'; result: 2xx | 4xx | 5xx; errorCode: the OData
//     error code ('none' for successes).
//   200 { from, to, interval, groupBy,
//         series: [{ key, buckets: [{ start, requests, errors, bytesIn, bytesOut, p50, p95, p99 }] }],
//         totals: { requests, errors, bytesIn, bytesOut, p50, p95, p99 },
//         errorCodes: [{ code, count }] }
//   Buckets cover [from, to) aligned to the interval (from rounded down, to up); empty buckets are
//   listed with zeros; p50/p95/p99 in milliseconds (null without requests), from a log-scale
//   histogram (about ±9 %). requests counts $batch items one by one; latency is per HTTP request.
//   400 InvalidParameter with target = the parameter.
// Contributor and up: the people who run integrations (real-time writers are Contributors) need
// their traffic and errors; Viewers read data but do not see who else calls the API.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { GROUP_BY, summarize, type GroupBy } from '../../realtime/telemetry.js';
import type { Services } from '../../services.js';
import { ApiError } from '../errors.js';
import { needs } from '../route-auth.js';
import { errors, InstanceParams, Nullable } from '../schemas.js';

const DAY_MINUTES = 1440;
const MAX_RANGE_MINUTES = 30 * DAY_MINUTES;
/** Clients compute "30 days ago" a little before the server reads its clock. */
const SLACK_MINUTES = 60;
const DEFAULT_INTERVALS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];
const MAX_BUCKETS = 1000;
const TARGET_BUCKETS = 500;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;

const Stats = {
  requests: Type.Integer(),
  errors: Type.Integer(),
  bytesIn: Type.Integer(),
  bytesOut: Type.Integer(),
  p50: Nullable(Type.Number()),
  p95: Nullable(Type.Number()),
  p99: Nullable(Type.Number()),
};
const Report = Type.Object(
  {
    from: Type.String(),
    to: Type.String(),
    interval: Type.String(),
    groupBy: Type.String(),
    series: Type.Array(Type.Object({ key: Type.String(), buckets: Type.Array(Type.Object({ start: Type.String(), ...Stats })) })),
    totals: Type.Object(Stats),
    errorCodes: Type.Array(Type.Object({ code: Type.String(), count: Type.Integer() })),
  },
  { description: 'Request counts, bytes and latency percentiles per time bucket and group' },
);

function parseTime(value: string, name: string): number {
  const t = RFC3339.test(value) ? Date.parse(value.replace(' ', 'T')) : NaN;
  if (Number.isNaN(t)) throw new ApiError('InvalidParameter', `${name} '${value}' is not an RFC 3339 date-time such as 2026-11-29T12:00:00Z`, name);
  return t;
}

export function intervalName(minutes: number): string {
  return minutes % DAY_MINUTES === 0 ? `${minutes / DAY_MINUTES}d` : minutes % 60 === 0 ? `${minutes / 60}h` : `${minutes}m`;
}

function parseInterval(value: string): number {
  const m = /^(\d{1,5})([mhd])$/.exec(value);
  const n = m ? Number(m[1]) * (m[2] === 'm' ? 1 : m[2] === 'h' ? 60 : DAY_MINUTES) : 0;
  if (!n) throw new ApiError('InvalidParameter', `interval '${value}' is not a duration such as 1m, 5m, 1h or 1d`, 'interval');
  if (n > MAX_RANGE_MINUTES) throw new ApiError('InvalidParameter', `interval '${value}' is longer than 30 days`, 'interval');
  return n;
}

export const telemetryRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { catalog, telemetry } = services;
  app.get(
    '/instances/:instanceId/telemetry/realtime',
    {
      config: needs('Contributor'),
      schema: {
        operationId: 'Telemetry_Realtime',
        summary: 'Real-time API requests, bytes and latency percentiles per time bucket, grouped',
        tags: ['Operations'],
        params: InstanceParams,
        querystring: Type.Object({
          from: Type.Optional(Type.String({ description: 'RFC 3339 start (default: one hour before `to`)' })),
          to: Type.Optional(Type.String({ description: 'RFC 3339 end (default: now)' })),
          interval: Type.Optional(Type.String({ description: 'Bucket length: 1m, 5m, 1h, 1d ... (default from the range, at most 500 buckets)' })),
          groupBy: Type.Optional(Type.String({ description: `One of ${GROUP_BY.join(', ')} (default none)` })),
        }),
        response: { 200: Report, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { instanceId } = request.params;
      const q = request.query;
      await catalog.require(instanceId);
      const now = Date.now();
      const to = q.to === undefined ? now : parseTime(q.to, 'to');
      const from = q.from === undefined ? to - 3_600_000 : parseTime(q.from, 'from');
      if (from >= to) throw new ApiError('InvalidParameter', `from (${q.from}) must be before to (${q.to ?? 'now'})`, 'from');
      const fromMinuteRaw = Math.floor(from / 60_000);
      const toMinuteRaw = Math.ceil(to / 60_000);
      if (toMinuteRaw - fromMinuteRaw > MAX_RANGE_MINUTES + SLACK_MINUTES)
        throw new ApiError('InvalidParameter', 'from and to are more than 30 days apart; telemetry is kept 30 days', 'from');
      if (fromMinuteRaw < Math.floor(now / 60_000) - MAX_RANGE_MINUTES - SLACK_MINUTES)
        throw new ApiError('InvalidParameter', `from (${q.from}) is more than 30 days ago; telemetry is kept 30 days`, 'from');
      const groupBy = (q.groupBy ?? 'none') as GroupBy;
      if (!GROUP_BY.includes(groupBy)) throw new ApiError('InvalidParameter', `groupBy '${q.groupBy}' is not one of ${GROUP_BY.join(', ')}`, 'groupBy');
      const span = toMinuteRaw - fromMinuteRaw;
      const intervalMinutes =
        q.interval === undefined
          ? (DEFAULT_INTERVALS.find((m) => Math.ceil(span / m) <= TARGET_BUCKETS) ?? DAY_MINUTES)
          : parseInterval(q.interval);
      // Buckets aligned to the interval (UTC), so charts of different ranges line up.
      const fromMinute = Math.floor(fromMinuteRaw / intervalMinutes) * intervalMinutes;
      const toMinute = Math.ceil(toMinuteRaw / intervalMinutes) * intervalMinutes;
      const buckets = (toMinute - fromMinute) / intervalMinutes;
      if (buckets > MAX_BUCKETS)
        throw new ApiError('InvalidParameter', `interval '${q.interval}' gives ${buckets} buckets over this range; at most ${MAX_BUCKETS}`, 'interval');
      // Recorded requests not yet written count too.
      await telemetry.flush();
      const rows = await telemetry.store.readMinutes(instanceId, fromMinute, toMinute);
      return summarize(rows, { fromMinute, toMinute, intervalMinutes, interval: intervalName(intervalMinutes), groupBy });
    },
  );
};
