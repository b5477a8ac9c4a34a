/**
 * Opens the embedded store on PGLITE_DIR (argv[2]) and holds it: prints "open" once it is, then
 * waits for a line on stdin (or a signal) before closing. A child process of test/pglite-lock.test.ts.
 */
import { openStore } from '../../src/store/open-store.js';

const dir = process.argv[2];
try {
  const store = await openStore({ DATABASE_URL: undefined, PGLITE_DIR: dir });
  process.stdout.write('open\n');
  process.stdin.once('data', async () => {
    await store.close();
    process.stdout.write('closed\n');
    process.exit(0);
  });
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(3);
}
