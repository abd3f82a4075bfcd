// `tapwire policy check FILE...`: loads and type-checks every rule of every file; each
// problem is printed as file:line:col with a pointer into the expression.
import { loadPolicyFile } from '../../policies/file.js';
import { PolicyError } from '../../policies/policy-error.js';
import { expandPattern } from '../../policies/load.js';

/** Returns the exit code: 0 when every file is valid, 2 otherwise (every problem of every file printed). */
export function policyCheck(patterns: readonly string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): number {
  let failed = false;
  for (const path of patterns.flatMap((p) => {
    try {
      return expandPattern(p);
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      err.write(`${e.message}\n`);
      failed = true;
      return [];
    }
  })) {
    try {
      const file = loadPolicyFile(path);
      out.write(`ok ${path}: ${file.rules.length} rules, ${file.tests.length} tests\n`);
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      err.write(`${e.explained.join('\n')}\n`);
      failed = true;
    }
  }
  return failed ? 2 : 0;
}
