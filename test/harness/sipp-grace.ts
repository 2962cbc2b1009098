/** Waiting for a sipp peer that should exit by itself soon (e.g. once the other side hung up), bounded by a grace period. */
import type { SippResult, SippRun } from './sipp.js';

/** sipp's result; stopped by the harness (result code null) when it has not exited by itself within `graceMs`. */
export async function resultWithin(run: SippRun, graceMs: number): Promise<SippResult> {
  const grace = setTimeout(() => void run.process.stop(1000), graceMs);
  try {
    return await run.result();
  } finally {
    clearTimeout(grace);
  }
}
