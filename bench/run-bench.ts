/** Runs a bench's main() within an overall time budget; every process the harness started is stopped at the end. */
import { stopAllStarted } from '../test/harness/processes.js';

export function runBench(main: () => Promise<void>, budgetMs: number): void {
  const guard = setTimeout(() => {
    console.error('bench: overall time budget exceeded');
    void stopAllStarted().finally(() => process.exit(2));
  }, budgetMs);
  main()
    .catch((e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    })
    .finally(async () => {
      clearTimeout(guard);
      await stopAllStarted();
    });
}
