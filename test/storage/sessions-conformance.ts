// Conformance suite of the web UI sessions sub-port (storage/sessions.ts): every adapter runs it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { UiSessionRecord } from '../../src/storage/sessions.js';
import type { OpenedStore } from './conformance.js';

const session = (n: number, over: Partial<UiSessionRecord> = {}): UiSessionRecord => ({
  idHash: `id-${n}`,
  keyHash: `key-${n % 2}`,
  createdAt: `2026-01-01T00:00:0${n}.000Z`,
  lastSeenAt: `2026-01-01T00:00:0${n}.000Z`,
  ...over,
});

export function sessionsConformance(name: string, open: () => Promise<OpenedStore>): void {
  describe(`Store sessions sub-port: ${name}`, () => {
    it('creates, reads, touches forward only, and deletes a session', async () => {
      const { store, cleanup } = await open();
      try {
        await store.sessions.createSession(session(1));
        assert.deepEqual(await store.sessions.getSession('id-1'), session(1));
        assert.equal(await store.sessions.getSession('id-2'), undefined);
        await store.sessions.touchSession('id-1', '2026-01-01T00:00:05.000Z');
        await store.sessions.touchSession('id-1', '2026-01-01T00:00:03.000Z');
        assert.equal((await store.sessions.getSession('id-1'))?.lastSeenAt, '2026-01-01T00:00:05.000Z', 'a late touch does not move it back');
        await assert.rejects(store.sessions.createSession(session(1)), 'a session id is unique');
        await store.sessions.deleteSession('id-1');
        assert.equal(await store.sessions.getSession('id-1'), undefined);
        await store.sessions.deleteSession('id-1');
      } finally {
        await cleanup();
      }
    });

    it('deletes ended sessions (idle or too old) and trims to the most recently seen', async () => {
      const { store, cleanup } = await open();
      try {
        for (const n of [1, 2, 3, 4, 5]) await store.sessions.createSession(session(n));
        // 1 idle (seen before 0:02), 5 too old (created before 0:02 although seen since).
        await store.sessions.touchSession('id-5', '2026-01-01T00:00:09.000Z');
        await store.sessions.createSession(session(6, { createdAt: '2026-01-01T00:00:00.500Z', lastSeenAt: '2026-01-01T00:00:08.000Z' }));
        assert.equal(await store.sessions.deleteEndedSessions('2026-01-01T00:00:02.000Z', '2026-01-01T00:00:01.000Z'), 2);
        const left = async () => (await Promise.all([1, 2, 3, 4, 5, 6].map((n) => store.sessions.getSession(`id-${n}`)))).map((s) => s?.idHash ?? null);
        assert.deepEqual(await left(), [null, 'id-2', 'id-3', 'id-4', 'id-5', null]);
        assert.equal(await store.sessions.trimSessions(2), 2);
        assert.deepEqual(await left(), [null, null, null, 'id-4', 'id-5', null], 'the two seen last stay');
        assert.equal(await store.sessions.trimSessions(2), 0);
      } finally {
        await cleanup();
      }
    });
  });
}
