// A decorator over the real Db port that makes chosen statements fail, to test what the server does
// when the database fails at one precise step (after Stripe has been called, say). Every other
// statement goes to the real engine unchanged.
import type { Db, Queryable } from '../../server/platform/db/db';

interface Fault {
  match: RegExp;
  remaining: number;
  /** Runs when the fault fires, before the statement fails (e.g. to queue a Stripe fault next). */
  onFail?: () => void;
}

export class InjectedDbError extends Error {
  override name = 'InjectedDbError';
}

export interface FaultyDb {
  db: Db;
  /** The next `times` statements whose SQL matches fail with InjectedDbError. */
  failNext: (match: RegExp, options?: { times?: number; onFail?: () => void }) => void;
  /** Statements that failed so far. */
  failures: string[];
}

export function faultyDb(real: Db): FaultyDb {
  const faults: Fault[] = [];
  const failures: string[] = [];
  const check = (sql: string) => {
    const fault = faults.find((f) => f.remaining > 0 && f.match.test(sql));
    if (!fault) return;
    fault.remaining -= 1;
    failures.push(sql);
    fault.onFail?.();
    throw new InjectedDbError(`injected database failure: ${fault.match}`);
  };
  const wrap = (target: Queryable): Queryable => ({
    query: async (sql, params) => {
      check(sql);
      return target.query(sql, params);
    },
    exec: async (sql) => {
      check(sql);
      return target.exec(sql);
    },
  });
  const db: Db = {
    engine: real.engine,
    ...wrap(real),
    transaction: (fn) => real.transaction((tx) => fn(wrap(tx))),
    close: () => real.close(),
  };
  return {
    db,
    failNext: (match, options = {}) => faults.push({ match, remaining: options.times ?? 1, onFail: options.onFail }),
    failures,
  };
}
