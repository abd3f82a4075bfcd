// What a PostgreSQL location is and how it may be printed, without the driver: store/open.ts
// asks this of every location, and loads the driver (pool.ts) only for a postgres:// URL.

/** True for the locations this backend opens: `postgres://` and `postgresql://` URLs. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(location);
}

/** The URL without its password, for messages and logs. */
export function printableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}
