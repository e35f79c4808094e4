// A test and simulation aid, never part of the running server: a decorator over the real Db port that
// makes chosen statements fail, to see what the server does when the database fails at one precise
// step (after Stripe has been called, say). The tests (tests/) and the simulator (simulation/world.ts)
// both use it. Every other statement, transaction and LISTEN goes to the real engine unchanged.
import type { Db, Queryable } from './db';

interface Fault {
  match: RegExp;
  remaining: number;
  /** Runs when the fault fires, before the statement fails (e.g. to queue a Stripe fault next). */
  onFail?: () => void;
  /** Only statements whose parameters pass this: one call's among concurrent ones running the same SQL. */
  when?: (params: readonly unknown[] | undefined) => boolean;
}

export class InjectedDbError extends Error {
  override name = 'InjectedDbError';
}

export interface FaultyDb {
  db: Db;
  /** The next `times` (default 1) statements whose SQL matches fail with InjectedDbError. */
  failNext: (match: RegExp, options?: { times?: number; onFail?: () => void }) => void;
  /**
   * Faults already armed whose pattern matches `statement` fail only a statement whose parameters pass
   * `when` (those narrowed before keep their test): when two calls run the same SQL at once, the fault
   * meets the one named, not whichever runs first.
   */
  narrow: (statement: string, when: (params: readonly unknown[] | undefined) => boolean) => void;
  /** The patterns of faults still armed (whose statement has not run yet), oldest first. */
  armedPatterns: () => RegExp[];
  /** Disarms every fault not yet fired. */
  disarm: () => void;
  /** The SQL of the statements that failed so far. */
  failures: string[];
}

export function faultyDb(real: Db): FaultyDb {
  let faults: Fault[] = [];
  const failures: string[] = [];
  const check = (sql: string, params?: readonly unknown[]) => {
    const fault = faults.find((f) => f.match.test(sql) && (!f.when || f.when(params)));
    if (!fault) return;
    fault.remaining -= 1;
    if (fault.remaining === 0) faults = faults.filter((f) => f !== fault);
    failures.push(sql);
    fault.onFail?.();
    throw new InjectedDbError(`injected database failure: ${fault.match}`);
  };
  const wrap = (target: Queryable): Queryable => ({
    query: async (sql, params) => {
      check(sql, params);
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
    ...(real.listen ? { listen: real.listen.bind(real) } : {}),
    close: () => real.close(),
  };
  return {
    db,
    failNext: (match, options = {}) => {
      const times = options.times ?? 1;
      if (times > 0) faults.push({ match, remaining: times, onFail: options.onFail });
    },
    narrow: (statement, when) => {
      for (const fault of faults) if (!fault.when && fault.match.test(statement)) fault.when = when;
    },
    armedPatterns: () => faults.map((f) => f.match),
    disarm: () => {
      faults = [];
    },
    failures,
  };
}
