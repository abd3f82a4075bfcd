// Test helpers for the Grafana dashboards and the compose stack: reading the dashboards,
// expanding the SQLite datasource's queries the way Grafana and the frser-sqlite-datasource
// plugin do (and the PostgreSQL datasource's, the way Grafana does), reading metric names out of PromQL and attribute names out of TraceQL, and
// type-checking a dashboard against @grafana/schema's Dashboard type.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { typeCheckJson } from './type-check.js';

/** The repository root (this file runs as dist/test/support/grafana.js). */
export const REPO = fileURLToPath(new URL('../../..', import.meta.url));
export const DASHBOARDS_DIR = join(REPO, 'grafana', 'dashboards');

export interface DataSourceRef {
  type: string;
  uid: string;
}

export interface Target {
  refId: string;
  /** Grafana's SQL datasources (PostgreSQL): the query, and `table` or `time_series`. */
  rawSql?: string;
  format?: string;
  datasource?: DataSourceRef;
  expr?: string;
  query?: string;
  rawQueryText?: string;
  queryText?: string;
  queryType?: string;
  timeColumns?: string[];
}

export interface Panel {
  type: string;
  title: string;
  datasource?: DataSourceRef;
  targets?: Target[];
  fieldConfig?: { overrides?: { properties: { id: string; value: unknown }[] }[] };
}

export interface Variable {
  name: string;
  type: string;
  datasource?: DataSourceRef;
  query?: string | { query: string };
}

export interface DashboardJson {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
  links?: { url?: string }[];
}

export function readDashboards(dir = DASHBOARDS_DIR): Map<string, { file: string; text: string; dashboard: DashboardJson }> {
  const out = new Map<string, { file: string; text: string; dashboard: DashboardJson }>();
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const file = join(dir, name);
    const text = readFileSync(file, 'utf8');
    const dashboard = JSON.parse(text) as DashboardJson;
    out.set(dashboard.uid, { file, text, dashboard });
  }
  return out;
}

/** Every target of a dashboard with the title of its panel. */
export function targetsOf(dashboard: DashboardJson): { panel: string; target: Target }[] {
  return dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, target })));
}

export interface GrafanaTimeRange {
  fromMs: number;
  toMs: number;
  intervalSeconds: number;
}

/**
 * A frser-sqlite-datasource query as it reaches SQLite. Grafana's frontend first replaces
 * the template variables (a multi-value variable with "All" selected, formatted
 * `${name:sqlstring}`, becomes every value quoted and comma-separated) and the global
 * variables `$__from`, `$__to` (Unix ms) and `$__interval_s`; then the plugin's backend
 * replaces its one macro, `$__unixEpochGroupSeconds(column, seconds[, NULL])`, with
 * `cast((column / seconds) as int) * seconds` (pkg/plugin/macros.go of the plugin).
 */
export function expandSqliteQuery(sql: string, variables: Map<string, string[]>, range: GrafanaTimeRange): string {
  let out = sql.replace(/\$\{(\w+):sqlstring\}/g, (match, name: string) => {
    const values = variables.get(name);
    if (!values) throw new Error(`unknown variable ${name} in ${match}`);
    return values.map((v) => `'${v.replace(/'/g, "''")}'`).join(',');
  });
  out = out
    .replace(/\$__from\b/g, String(range.fromMs))
    .replace(/\$__to\b/g, String(range.toMs))
    .replace(/\$__interval_s\b/g, String(range.intervalSeconds));
  out = out.replace(/\$__unixEpochGroupSeconds\(([^)]*)\)/g, (_match, args: string) => {
    const parts = args.split(',').map((a) => a.trim());
    if (parts.length < 2 || parts.length > 3) throw new Error(`unixEpochGroupSeconds takes 2 or 3 arguments: ${args}`);
    if (parts.length === 3 && parts[2]!.toLowerCase() !== 'null') throw new Error(`unsupported gap filling value ${parts[2]}`);
    const seconds = Number.parseInt(parts[1]!, 10);
    if (!Number.isInteger(seconds)) throw new Error(`not an integer interval: ${parts[1]}`);
    return `cast((${parts[0]} / ${seconds}) as int) * ${seconds}`;
  });
  return out;
}

/**
 * A query of Grafana's built-in PostgreSQL datasource as it reaches PostgreSQL. The frontend
 * replaces the template variables (as for SQLite above), `$__from`, `$__to` (Unix ms) and
 * `$__interval` (e.g. `10s`); then the datasource's backend replaces its macros, of which the
 * dashboards use `$__unixEpochGroup(column, interval)`: `floor((column)/seconds)*seconds`
 * (pkg/tsdb/grafana-postgresql-datasource/macros.go).
 */
export function expandPostgresQuery(sql: string, variables: Map<string, string[]>, range: GrafanaTimeRange): string {
  let out = expandSqliteQuery(sql, variables, range).replace(/\$__interval\b/g, `${range.intervalSeconds}s`);
  out = out.replace(/\$__unixEpochGroup\(([^)]*)\)/g, (_match, args: string) => {
    const parts = args.split(',').map((a) => a.trim());
    if (parts.length !== 2) throw new Error(`unixEpochGroup: a column and an interval (no fill mode here): ${args}`);
    const interval = /^'?(\d+)s'?$/.exec(parts[1]!);
    if (!interval) throw new Error(`not an interval in seconds: ${parts[1]}`);
    return `floor((${parts[0]})/${interval[1]})*${interval[1]}`;
  });
  return out;
}

/** The metric names a PromQL expression selects: identifiers followed by a selector `{` or a range `[`. */
export function promqlMetricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return [...withoutStrings.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{[]/g)].map((m) => m[1]!);
}

/** For each `metric{label=...}` selector in a PromQL expression, the metric and the label names it matches on. */
export function promqlSelectors(expr: string): { metric: string; labels: string[] }[] {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}/g)].map((m) => ({
    metric: m[1]!,
    labels: [...m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((l) => l[1]!),
  }));
}

/** Series in a Prometheus text exposition: metric name -> the label names seen on it. */
export function scrapedSeries(exposition: string): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = series.get(match[1]!) ?? new Set<string>();
    for (const l of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(l[1]!);
    series.set(match[1]!, labels);
  }
  return series;
}

/** The `span.` and `resource.` attributes a TraceQL query names, and the values it compares them to with `=`. */
export function traceqlAttributes(query: string): { scope: 'span' | 'resource'; name: string; equals: string | null }[] {
  return [...query.matchAll(/\b(span|resource)\.([a-zA-Z0-9_.]+[a-zA-Z0-9_])(\s*=\s*"([^"]*)")?/g)].map((m) => ({
    scope: m[1] as 'span' | 'resource',
    name: m[2]!,
    equals: m[4] ?? null,
  }));
}

/**
 * Type-checks dashboard JSON against the `Dashboard` type of @grafana/schema (the package
 * ships TypeScript types generated from Grafana's CUE schema, and no JSON Schema). Returns
 * the diagnostics as "line:col message" strings (empty when it validates).
 */
export function typeCheckDashboard(json: string): string[] {
  return typeCheckJson(json, 'Dashboard', '@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen', join(REPO, 'grafana'));
}
