// The federated view's bookkeeping, free of any I/O: which lists are aggregated and from
// which field, the names the agent sees (prefixed with the server's route name or not) and
// the server each belongs to, the opaque cursor that carries every server's own cursor, and
// the capabilities and protocol version announced to the agent.

export type PrefixMode = 'auto' | 'always' | 'never';

/** The lists a federated route aggregates: the result field, the capability that offers it, and whether entries are named (and prefixed). */
export const LISTS: Readonly<Record<string, { field: string; capability: string; named: boolean }>> = {
  'tools/list': { field: 'tools', capability: 'tools', named: true },
  'prompts/list': { field: 'prompts', capability: 'prompts', named: true },
  'resources/list': { field: 'resources', capability: 'resources', named: false },
  'resources/templates/list': { field: 'resourceTemplates', capability: 'resources', named: false },
};

/** The separator between a server's name and a tool or prompt name: `github_search`. */
export const SEPARATOR = '_';

export interface Owned {
  server: string;
  /** The name as the server knows it. */
  name: string;
}

/**
 * Tool (or prompt) names as the agent sees them. With prefixing, `<server>_<name>`, and a
 * name the agent never listed is still routed by its prefix (longest server name first).
 */
export class NameSpace {
  private readonly owners = new Map<string, Owned>();
  private readonly byLength: string[];

  constructor(
    private readonly servers: readonly string[],
    readonly prefixing: boolean,
  ) {
    this.byLength = [...servers].sort((a, b) => b.length - a.length);
  }

  /**
   * The name the agent sees for `name` of `server`, remembered for routing. Returns a clash
   * (the other server) when, unprefixed, another server already owns that name.
   */
  expose(server: string, name: string): { exposed: string; clash: string | null } {
    const exposed = this.prefixing ? `${server}${SEPARATOR}${name}` : name;
    const owner = this.owners.get(exposed);
    if (owner && owner.server !== server) return { exposed, clash: owner.server };
    this.owners.set(exposed, { server, name });
    return { exposed, clash: null };
  }

  /** The server and name behind what the agent called, or null when no server has it. */
  resolve(exposed: string): Owned | null {
    const known = this.owners.get(exposed);
    if (known) return known;
    if (!this.prefixing) return this.servers.length === 1 ? { server: this.servers[0]!, name: exposed } : null;
    const server = this.byLength.find((s) => exposed.startsWith(`${s}${SEPARATOR}`) && exposed.length > s.length + 1);
    return server ? { server, name: exposed.slice(server.length + 1) } : null;
  }
}

/** Whether names get prefixes: `auto` prefixes when there is more than one server. */
export function prefixes(mode: PrefixMode, servers: number): boolean {
  return mode === 'always' || (mode === 'auto' && servers > 1);
}

/** The cursor the agent gets: every server that has more to list, with its own cursor. */
export function encodeCursor(pending: ReadonlyMap<string, string>): string | undefined {
  if (pending.size === 0) return undefined;
  return Buffer.from(JSON.stringify(Object.fromEntries(pending))).toString('base64url');
}

/** The servers' cursors in a cursor tapwire gave out, or null when it is not one (or names a server the route does not have). */
export function decodeCursor(cursor: string, servers: readonly string[]): Map<string, string> | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0 || entries.some(([server, c]) => !servers.includes(server) || typeof c !== 'string')) return null;
  return new Map(entries as [string, string][]);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The server capabilities a federated route can route; others (e.g. tasks, keyed by ids no name maps) are not announced. */
export const ROUTED_CAPABILITIES: readonly string[] = ['tools', 'prompts', 'resources', 'logging', 'completions'];

/**
 * The capabilities announced to the agent: the union of the servers' routed ones (a flag
 * such as listChanged or subscribe is on when any server has it), plus logging, which the
 * route itself uses to report a server it left out.
 */
export function unionCapabilities(all: readonly unknown[]): Json {
  const union: Json = { logging: {} };
  for (const capabilities of all) {
    if (!isObject(capabilities)) continue;
    for (const [name, value] of Object.entries(capabilities)) {
      if (!isObject(value) || !ROUTED_CAPABILITIES.includes(name)) continue;
      const merged: Json = isObject(union[name]) ? { ...(union[name]) } : {};
      for (const [flag, on] of Object.entries(value)) merged[flag] = typeof on === 'boolean' ? merged[flag] === true || on : (merged[flag] ?? on);
      union[name] = merged;
    }
  }
  return union;
}

/** The protocol version for the agent: the oldest of what it asked for and what each server answered (versions are dates). */
export function oldestVersion(requested: string, answered: readonly string[]): string {
  return [requested, ...answered].reduce((oldest, v) => (v < oldest ? v : oldest));
}
