// The error a selection of recorded exchanges is refused with (a bad --filter, an unknown
// id, a bad replay option). Apart from tools/select.ts, so the CLI recognises it without
// loading CEL (issue 23).

/** Bad input to a selection: the CLI prints its message and exits 2. */
export class SelectionError extends Error {
  override readonly name = 'SelectionError';
}
