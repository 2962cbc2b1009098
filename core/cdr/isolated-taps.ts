/**
 * A SyncHook whose taps cannot hurt each other nor the caller: each tap's exception is logged with the tap's name
 * and the next tap still runs (tapable alone stops at the first that throws and rethrows it to `call()`).
 */
import type { SyncHook } from 'tapable';
import type { Logger } from '../vocabulary/index.js';

export function isolateTaps<T>(hook: SyncHook<[T]>, log: Logger, hookName: string): void {
  hook.intercept({
    register: (tap) => {
      const fn = tap.fn as (arg: T) => void;
      return {
        ...tap,
        fn: (arg: T): void => {
          try {
            fn(arg);
          } catch (e) {
            log.error({ tap: tap.name, err: (e as Error)?.stack ?? String(e) }, `a ${hookName} tap threw; ignored`);
          }
        },
      };
    },
  });
}
