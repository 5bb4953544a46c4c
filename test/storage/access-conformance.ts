// Conformance suite of the access sub-port (store.access): every adapter must pass it. It talks only
// through the port, so it says nothing about tables or SQL.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessKey, KeySlot } from '../../src/storage/access.js';
import type { Role, Store } from '../../src/storage/store.js';

/** The suite needs only the access sub-port (an adapter may not have the others yet). */
export interface OpenedAccessStore {
  store: Pick<Store, 'access'>;
  cleanup: () => Promise<void>;
}

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';
const T2 = '2026-01-03T00:00:00.000Z';

function key(id: string, principalId: string, instanceId: string | null, slot: KeySlot, role: Role = 'Viewer'): Omit<AccessKey, 'lastUsedAt' | 'revokedAt'> & { slot: KeySlot } {
  return { id, principalId, instanceId, slot, role, name: id, prefix: `kdr_${id}`.slice(0, 8), hash: `${id}`.padEnd(64, '0'), createdAt: T0, expiresAt: null };
}

export function accessConformance(name: string, open: () => Promise<OpenedAccessStore>): void {
  describe(`access store conformance: ${name}`, () => {
    const withStore = (fn: (s: OpenedAccessStore['store']) => Promise<void>) => async () => {
      const opened = await open();
      try {
        await fn(opened.store);
      } finally {
        await opened.cleanup();
      }
    };

    it(
      'principals are created once and kept as first made',
      withStore(async (store) => {
        const a = await store.access.ensurePrincipal({ id: 'user:ana@example.com', kind: 'user', displayName: 'Ana' }, T0);
        assert.deepEqual(a, { id: 'user:ana@example.com', kind: 'user', displayName: 'Ana', createdAt: T0 });
        const again = await store.access.ensurePrincipal({ id: 'user:ana@example.com', kind: 'app', displayName: 'Other' }, T1);
        assert.deepEqual(again, a);
        assert.deepEqual(await store.access.getPrincipal('user:ana@example.com'), a);
        assert.equal(await store.access.getPrincipal('user:nobody'), undefined);
      }),
    );

    it(
      'one role per principal and scope; a role change reaches the live keys; removal revokes them',
      withStore(async (store) => {
        const acc = store.access;
        await acc.ensurePrincipal({ id: 'app:a', kind: 'app', displayName: 'A' }, T0);
        await acc.ensurePrincipal({ id: 'app:b', kind: 'app', displayName: 'B' }, T0);
        assert.equal(await acc.assignRole('app:a', 'shop', 'Viewer', T0), 'created');
        assert.equal(await acc.assignRole('app:a', null, 'Administrator', T0), 'created', 'server-wide is its own scope');
        assert.equal(await acc.assignRole('app:b', 'shop', 'Contributor', T0), 'created');
        await acc.putKey(key('k1', 'app:a', 'shop', 'primary'), T0);
        await acc.putKey(key('k2', 'app:a', null, 'primary', 'Administrator'), T0);
        assert.equal(await acc.assignRole('app:a', 'shop', 'Contributor', T1), 'updated');
        assert.equal((await acc.getAssignment('app:a', 'shop'))?.role, 'Contributor');
        assert.equal((await acc.getAssignment('app:a', null))?.role, 'Administrator');
        assert.equal((await acc.findKeyByHash(key('k1', '', null, 'primary').hash))?.role, 'Contributor', 'the key follows the role');
        assert.equal((await acc.findKeyByHash(key('k2', '', null, 'primary').hash))?.role, 'Administrator', 'other scopes untouched');
        assert.deepEqual(
          (await acc.listAssignments('shop')).map((a) => [a.principalId, a.role, a.principalKind, a.displayName, a.instanceId]),
          [
            ['app:a', 'Contributor', 'app', 'A', 'shop'],
            ['app:b', 'Contributor', 'app', 'B', 'shop'],
          ],
        );
        assert.deepEqual((await acc.listAssignments(null)).map((a) => a.principalId), ['app:a']);
        assert.deepEqual(await acc.listAssignments('other'), []);

        const revoked = await acc.removeAssignment('app:a', 'shop', T2);
        assert.deepEqual(revoked?.map((k) => [k.id, k.revokedAt]), [['k1', T2]]);
        assert.equal((await acc.findKeyByHash(key('k1', '', null, 'primary').hash))?.revokedAt, T2);
        assert.equal((await acc.findKeyByHash(key('k2', '', null, 'primary').hash))?.revokedAt, null);
        assert.equal(await acc.getAssignment('app:a', 'shop'), undefined);
        assert.equal(await acc.removeAssignment('app:a', 'shop', T2), undefined);
      }),
    );

    it(
      'two slots per principal and scope: putting a key in a held slot revokes the old one; hashes are unique',
      withStore(async (store) => {
        const acc = store.access;
        await acc.ensurePrincipal({ id: 'app:a', kind: 'app', displayName: 'A' }, T0);
        assert.equal(await acc.putKey(key('p1', 'app:a', 'shop', 'primary'), T0), undefined);
        assert.equal(await acc.putKey(key('s1', 'app:a', 'shop', 'secondary'), T0), undefined);
        assert.equal(await acc.putKey(key('o1', 'app:a', 'other', 'primary'), T0), undefined, 'another scope has its own slots');
        const replaced = await acc.putKey(key('p2', 'app:a', 'shop', 'primary'), T1);
        assert.equal(replaced?.id, 'p1');
        assert.equal(replaced?.revokedAt, T1);
        assert.deepEqual((await acc.listKeys('shop')).map((k) => [k.id, k.slot]), [
          ['p2', 'primary'],
          ['s1', 'secondary'],
        ]);
        assert.deepEqual((await acc.listKeys('shop', { includeRevoked: true })).map((k) => k.id).sort(), ['p1', 'p2', 's1']);
        assert.deepEqual((await acc.listKeys('shop', { principalId: 'app:nobody' })), []);
        assert.deepEqual((await acc.listKeys(null)), []);
        await assert.rejects(() => acc.putKey({ ...key('dup', 'app:a', 'x', 'primary'), hash: key('p2', '', null, 'primary').hash }, T1));
        assert.equal((await acc.getKey('shop', 'p2'))?.id, 'p2');
        assert.equal(await acc.getKey('other', 'p2'), undefined, 'a key is found only in its scope');
      }),
    );

    it(
      'revocation is per scope and once; last-used times are kept',
      withStore(async (store) => {
        const acc = store.access;
        await acc.ensurePrincipal({ id: 'app:a', kind: 'app', displayName: 'A' }, T0);
        await acc.putKey(key('k1', 'app:a', 'shop', 'primary'), T0);
        assert.equal(await acc.revokeKey('other', 'k1', T1), undefined);
        assert.equal((await acc.revokeKey('shop', 'k1', T1))?.revokedAt, T1);
        assert.equal(await acc.revokeKey('shop', 'k1', T2), undefined, 'already revoked');
        assert.equal((await acc.getKey('shop', 'k1'))?.revokedAt, T1);
        await acc.touchKey('k1', T2);
        assert.equal((await acc.getKey('shop', 'k1'))?.lastUsedAt, T2);
        await acc.touchKey('nope', T2);
        // A freed slot takes a new key.
        assert.equal(await acc.putKey(key('k2', 'app:a', 'shop', 'primary'), T2), undefined);
      }),
    );

    it(
      'the audit log: newest first, filtered by scope, action (exact or prefix), principal and time, paged by id',
      withStore(async (store) => {
        const acc = store.access;
        const rows = [
          { at: T0, instanceId: 'shop', principalId: 'app:a', action: 'key.create', target: 'app:x', outcome: 'success', detail: { keyId: 'k1' } },
          { at: T0, instanceId: 'shop', principalId: 'app:b', action: 'key.create', target: null, outcome: 'Forbidden', detail: null },
          { at: T1, instanceId: null, principalId: 'app:root', action: 'instance.apply', target: 'shop', outcome: 'success', detail: null },
          { at: T1, instanceId: 'other', principalId: 'app:c', action: 'rbac.assign', target: 'app:d', outcome: 'success', detail: null },
          { at: T2, instanceId: 'shop', principalId: 'app:a', action: 'key.revoke', target: 'k1', outcome: 'success', detail: null },
        ];
        const ids: number[] = [];
        for (const r of rows) ids.push(await acc.appendAudit(r));
        assert.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]), 'ids grow');
        const shop = await acc.queryAudit({ instanceId: 'shop', limit: 10 });
        assert.deepEqual(shop.map((e) => e.action), ['key.revoke', 'key.create', 'key.create']);
        assert.deepEqual(shop[2], { id: ids[0], ...rows[0] });
        assert.deepEqual((await acc.queryAudit({ instanceId: null, limit: 10 })).map((e) => e.action), ['instance.apply']);
        assert.equal((await acc.queryAudit({ limit: 10 })).length, 5, 'undefined scope: everything');
        assert.deepEqual((await acc.queryAudit({ instanceId: 'shop', action: 'key.create', limit: 10 })).map((e) => e.principalId), ['app:b', 'app:a']);
        assert.deepEqual((await acc.queryAudit({ actionPrefix: 'key.', limit: 10 })).map((e) => e.action), ['key.revoke', 'key.create', 'key.create']);
        assert.deepEqual((await acc.queryAudit({ principalId: 'app:a', limit: 10 })).map((e) => e.action), ['key.revoke', 'key.create']);
        assert.deepEqual((await acc.queryAudit({ since: T1, limit: 10 })).map((e) => e.at), [T2, T1, T1]);
        assert.deepEqual((await acc.queryAudit({ until: T1, limit: 10 })).map((e) => e.at), [T0, T0]);
        const first = await acc.queryAudit({ limit: 2 });
        const second = await acc.queryAudit({ limit: 2, beforeId: first[1].id });
        const third = await acc.queryAudit({ limit: 2, beforeId: second[1].id });
        assert.deepEqual([...first, ...second, ...third].map((e) => e.id), [...ids].reverse());
      }),
    );
  });
}

/** api_keys rows made before principals existed (columns of migration 1), for the migration 3 tests. */
export const KEYS_BEFORE_PRINCIPALS: [id: string, instanceId: string | null, principalId: string, name: string, role: Role, prefix: string, hash: string, createdAt: string, revokedAt: string | null][] = [
  ['a1', 'shop', 'app:crm', 'crm', 'Viewer', 'kdr_a1', 'h-a1', '2026-01-01', null],
  ['a2', 'shop', 'app:crm', 'crm', 'Contributor', 'kdr_a2', 'h-a2', '2026-01-02', null],
  ['a3', 'shop', 'app:crm', 'crm', 'Viewer', 'kdr_a3', 'h-a3', '2026-01-03', null],
  ['a4', 'shop', 'app:crm', 'crm', 'Administrator', 'kdr_a4', 'h-a4', '2026-01-04', '2026-01-05'],
  ['s1', null, 'user:ops@example.com', 'ops', 'Administrator', 'kdr_s1', 'h-s1', '2026-01-01', null],
];

/**
 * After migration 3 on KEYS_BEFORE_PRINCIPALS: each key principal has a principal, its highest live
 * role per scope, and its newest two live keys have the slots.
 */
export async function assertKeysBeforePrincipalsMigrated(access: Store['access']): Promise<void> {
  assert.deepEqual(await access.getPrincipal('user:ops@example.com'), { id: 'user:ops@example.com', kind: 'user', displayName: 'ops', createdAt: '2026-01-01' });
  assert.equal((await access.getPrincipal('app:crm'))?.kind, 'app');
  assert.equal((await access.getAssignment('app:crm', 'shop'))?.role, 'Contributor', 'the highest role of the live keys (a4 is revoked)');
  assert.equal((await access.getAssignment('user:ops@example.com', null))?.role, 'Administrator');
  const slots = Object.fromEntries((await access.listKeys('shop', { includeRevoked: true })).map((k) => [k.id, k.slot]));
  assert.deepEqual(slots, { a1: null, a2: 'secondary', a3: 'primary', a4: null });
  // The older extra key still works (no slot), and the slots take new keys as usual.
  assert.equal((await access.findKeyByHash('h-a1'))?.revokedAt, null);
  const replaced = await access.putKey(
    { id: 'a5', instanceId: 'shop', principalId: 'app:crm', name: 'crm', role: 'Contributor', prefix: 'kdr_a5', hash: 'h-a5', slot: 'primary', createdAt: '2026-02-01', expiresAt: null },
    '2026-02-01',
  );
  assert.equal(replaced?.id, 'a3');
}
