// A staff mutation's idempotency with its first answer kept (server/idempotency/staffAction.ts and the
// staff_action_* functions of 20261207000900): the work runs once per key, a repeat gets the stored
// answer, other input is CONFLICT, a key still in progress is refused (or claimed again once its
// process is long gone), and a key given back or a failed work leaves nothing behind.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../server/auth/viewer';
import { runStaffAction, staffActionHash } from '../../server/idempotency/staffAction';
import { AppError } from '../../server/platform/errors';
import { createTestDb, type TestDb } from '../helpers/db';

let testDb: TestDb;
beforeAll(async () => {
  testDb = await createTestDb();
});
afterAll(() => testDb?.close());

const admin = (): Viewer => ({ role: 'ADMIN', id: randomUUID(), name: 'admin@staff.test', kind: 'user' }) as Viewer;

async function state(viewer: Viewer, key: string) {
  const db = testDb.db;
  const keys = await db.query<{ status: string; response: unknown }>('select status, response from idempotency_keys where scope = $1 and key = $2', [`user:${viewer.id}`, key]);
  const audit = await db.query<{ n: number }>(`select count(*)::int as n from audit_log where details->>'idempotency_key' = $1`, [key]);
  return { keys: keys.rows, audit: audit.rows[0]!.n };
}

function action(viewer: Viewer, key: string, input: string, work: () => Promise<{ response: { done: string }; keep: boolean }>) {
  return runStaffAction(testDb.db, {
    viewer,
    key,
    operation: 'test_action',
    canonicalInput: { input },
    work,
    audit: (response) => ({ action: 'test.action', targetType: 'test', targetId: response.done, details: { input } }),
  });
}

async function refusalOf(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return { code: (error as AppError).code, reason: (error as AppError).details?.reason };
}

describe('runStaffAction', () => {
  it('does the work once: a repeat gets the first answer flagged isRepeat, with one completed key and one audit row', async () => {
    const viewer = admin();
    const key = randomUUID();
    let calls = 0;
    const work = async () => ({ response: { done: `call ${++calls}` }, keep: true });
    expect(await action(viewer, key, 'a', work)).toEqual({ response: { done: 'call 1' }, isRepeat: false });
    expect(await action(viewer, key, 'a', work)).toEqual({ response: { done: 'call 1' }, isRepeat: true });
    expect(calls).toBe(1);
    expect(await state(viewer, key)).toEqual({ keys: [{ status: 'completed', response: { done: 'call 1' } }], audit: 1 });
  });

  it("records who acted in words in the audit row's details (the viewer's email), beside the actor id", async () => {
    const viewer = admin();
    const key = randomUUID();
    await action(viewer, key, 'a', async () => ({ response: { done: 'named' }, keep: true }));
    const { rows } = await testDb.db.query<{ actor_id: string; details: Record<string, unknown> }>(
      `select actor_id, details from audit_log where details->>'idempotency_key' = $1`,
      [key],
    );
    expect(rows).toEqual([{ actor_id: `staff:${viewer.id}`, details: expect.objectContaining({ input: 'a', actor_name: 'admin@staff.test' }) }]);
  });

  it('refuses the key with other input, or for another operation, with CONFLICT (IDEMPOTENCY_KEY_REUSED), doing nothing', async () => {
    const viewer = admin();
    const key = randomUUID();
    await action(viewer, key, 'a', async () => ({ response: { done: 'a' }, keep: true }));
    let called = false;
    const work = async () => ((called = true), { response: { done: 'b' }, keep: true });
    expect(await refusalOf(action(viewer, key, 'b', work))).toEqual({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    const other = runStaffAction(testDb.db, { viewer, key, operation: 'other_action', canonicalInput: { input: 'a' }, work, audit: () => ({ action: 'x', targetType: 'x', targetId: 'x' }) });
    expect(await refusalOf(other)).toEqual({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(called).toBe(false);
  });

  it('keeps keys apart per staff member: the same key from another one is their own', async () => {
    const key = randomUUID();
    expect((await action(admin(), key, 'a', async () => ({ response: { done: 'first' }, keep: true }))).isRepeat).toBe(false);
    expect(await action(admin(), key, 'a', async () => ({ response: { done: 'second' }, keep: true }))).toEqual({ response: { done: 'second' }, isRepeat: false });
  });

  it('refuses a key whose call is still working with CONFLICT (IDEMPOTENCY_KEY_IN_PROGRESS) while that call goes on to answer', async () => {
    const viewer = admin();
    const key = randomUUID();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const working = new Promise<void>((resolve) => (entered = resolve));
    const first = action(viewer, key, 'a', async () => {
      entered();
      await held;
      return { response: { done: 'first' }, keep: true };
    });
    await working;
    expect(await refusalOf(action(viewer, key, 'a', async () => ({ response: { done: 'second' }, keep: true })))).toEqual({
      code: 'CONFLICT',
      reason: 'IDEMPOTENCY_KEY_IN_PROGRESS',
    });
    release();
    expect(await first).toEqual({ response: { done: 'first' }, isRepeat: false });
    expect(await state(viewer, key)).toEqual({ keys: [{ status: 'completed', response: { done: 'first' } }], audit: 1 });
  });

  it('claims again a key left in progress for over 5 minutes by a process that died', async () => {
    const viewer = admin();
    const key = randomUUID();
    await testDb.db.query(
      `insert into idempotency_keys (scope, key, operation, request_hash, created_at) values ($1, $2, 'test_action', $3, now() - interval '6 minutes')`,
      [`user:${viewer.id}`, key, staffActionHash('test_action', { input: 'a' })],
    );
    expect(await action(viewer, key, 'a', async () => ({ response: { done: 'taken over' }, keep: true }))).toEqual({ response: { done: 'taken over' }, isRepeat: false });
    expect(await state(viewer, key)).toEqual({ keys: [{ status: 'completed', response: { done: 'taken over' } }], audit: 1 });
  });

  describe('a first call still working after its key was taken over (over 5 minutes)', () => {
    /** A call whose work waits for `go`, and a promise that settles once its work has started. */
    function blocked(viewer: Viewer, key: string, done: string, keep: boolean, logger?: { error: (...args: unknown[]) => void }) {
      let go!: () => void;
      const gate = new Promise<void>((resolve) => (go = resolve));
      let started!: () => void;
      const working = new Promise<void>((resolve) => (started = resolve));
      const result = runStaffAction(testDb.db, {
        viewer,
        key,
        operation: 'test_action',
        canonicalInput: { input: 'a' },
        work: async () => {
          started();
          await gate;
          return { response: { done }, keep };
        },
        audit: (response) => ({ action: 'test.action', targetType: 'test', targetId: response.done }),
        ...(logger ? { logger } : {}),
      });
      return { result, working, go };
    }
    const age = (viewer: Viewer, key: string) =>
      testDb.db.query(`update idempotency_keys set created_at = now() - interval '6 minutes' where scope = $1 and key = $2`, [`user:${viewer.id}`, key]);

    it("cannot give back the later call's claim: the later call completes the key", async () => {
      const viewer = admin();
      const key = randomUUID();
      const first = blocked(viewer, key, 'first', false);
      await first.working;
      await age(viewer, key);
      const second = blocked(viewer, key, 'second', true);
      await second.working;
      first.go();
      expect(await first.result).toEqual({ response: { done: 'first' }, isRepeat: false });
      expect(await state(viewer, key)).toEqual({ keys: [{ status: 'in_progress', response: null }], audit: 0 });
      second.go();
      expect(await second.result).toEqual({ response: { done: 'second' }, isRepeat: false });
      expect(await state(viewer, key)).toEqual({ keys: [{ status: 'completed', response: { done: 'second' } }], audit: 1 });
    });

    it('cannot complete a key the later call holds or completed: logged and thrown as IDEMPOTENCY_KEY_TAKEN_OVER, the later answer kept', async () => {
      const viewer = admin();
      const key = randomUUID();
      const logged: unknown[][] = [];
      const first = blocked(viewer, key, 'first', true, { error: (...args: unknown[]) => logged.push(args) });
      await first.working;
      await age(viewer, key);
      expect(await action(viewer, key, 'a', async () => ({ response: { done: 'second' }, keep: true }))).toEqual({ response: { done: 'second' }, isRepeat: false });
      first.go();
      expect(await refusalOf(first.result)).toEqual({ code: 'CONFLICT', reason: 'IDEMPOTENCY_KEY_TAKEN_OVER' });
      expect(logged).toHaveLength(1);
      expect(logged[0]![0]).toMatchObject({ idempotencyKey: key, operation: 'test_action', response: { done: 'first' } });
      expect(await state(viewer, key)).toEqual({ keys: [{ status: 'completed', response: { done: 'second' } }], audit: 1 });
    });
  });

  it('gives the key back when the work says nothing happened, or throws: no key, no audit row, and the key works again', async () => {
    const viewer = admin();
    const key = randomUUID();
    expect(await action(viewer, key, 'a', async () => ({ response: { done: 'unavailable' }, keep: false }))).toEqual({ response: { done: 'unavailable' }, isRepeat: false });
    expect(await state(viewer, key)).toEqual({ keys: [], audit: 0 });
    await expect(action(viewer, key, 'a', async () => Promise.reject(new Error('database went away')))).rejects.toThrow('database went away');
    expect(await state(viewer, key)).toEqual({ keys: [], audit: 0 });
    expect(await action(viewer, key, 'a', async () => ({ response: { done: 'now' }, keep: true }))).toEqual({ response: { done: 'now' }, isRepeat: false });
  });

  it('hashes the same input the same way whatever order its fields are given in', () => {
    expect(staffActionHash('op', { b: '2', a: '1' })).toBe(staffActionHash('op', { a: '1', b: '2' }));
    expect(staffActionHash('op', { a: '1', b: null })).not.toBe(staffActionHash('op', { a: '1', b: '' }));
  });
});
