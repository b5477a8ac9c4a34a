/** `npm run publish`, `npm run rollback`, `npm run models`: see src/cache/publish-command.ts. */
import { runCli } from '../src/cli/args.js';
import { publishMain } from '../src/cache/publish-command.js';

runCli(() => publishMain(process.argv.slice(2)), 'publish');
