// Loaded with `node --import` into a process under test: registers resolve-hooks.ts, which
// appends every module specifier the process resolves to the file TAPWIRE_RESOLVED_LOG
// names, so a test can tell which packages a command loaded (issue 23: `tapwire run`
// without policies loads no CEL).
import { register } from 'node:module';

const log = process.env.TAPWIRE_RESOLVED_LOG;
if (!log) throw new Error('record-resolutions: set TAPWIRE_RESOLVED_LOG to the file the specifiers go to');
register('./resolve-hooks.js', import.meta.url, { data: { log } });
