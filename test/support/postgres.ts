// A private PostgreSQL server for a test: a fresh cluster in a temporary directory, listening
// on 127.0.0.1 on a port the test picks (unix sockets in the directory), trust authentication
// for its one superuser. PostgreSQL refuses to run as root, so as root the cluster belongs to
// the `postgres` user and runs through runuser. stop() and start() let a test take the server
// down mid-load; close() stops it and removes the directory. Servers still running when the
// test process exits are stopped.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../bench/processes.js';

const BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];
const SUPERUSER = 'tapwire';

/** The directory of initdb and pg_ctl, or null when PostgreSQL is not installed. */
export function postgresBinDir(): string | null {
  return BIN_DIRS.find((dir) => existsSync(join(dir, 'pg_ctl'))) ?? null;
}

const running = new Set<PostgresServer>();
process.once('exit', () => {
  for (const server of running) server.stopNow();
});

export class PostgresServer {
  /** `postgres://tapwire@127.0.0.1:<port>/<database>` of the server's default database. */
  readonly url: string;
  private readonly dataDir: string;

  private constructor(
    private readonly bin: string,
    private readonly root: string,
    readonly port: number,
  ) {
    this.dataDir = join(root, 'data');
    this.url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
  }

  /** Initialises and starts a cluster; throws when PostgreSQL is not installed. */
  static async start(): Promise<PostgresServer> {
    const bin = postgresBinDir();
    if (!bin) throw new Error('PostgreSQL is not installed (.ci/run installs the postgresql package)');
    const root = mkdtempSync(join(tmpdir(), 'tapwire-pg-'));
    chmodSync(root, 0o700);
    const server = new PostgresServer(bin, root, await freePort());
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
      chownSync(root, uid, gid);
    }
    server.run('initdb', ['-D', server.dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync']);
    running.add(server);
    server.startAgain();
    return server;
  }

  /** A URL for another database of this server (created by createDatabase). */
  urlOf(database: string): string {
    return `postgres://${SUPERUSER}@127.0.0.1:${this.port}/${database}`;
  }

  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): string {
    this.run('createdb', ['-h', '127.0.0.1', '-p', String(this.port), '-U', SUPERUSER, name]);
    return this.urlOf(name);
  }

  /** Starts the (stopped) server again on the same port and data, waiting until it accepts connections. */
  startAgain(): void {
    const options = `-c listen_addresses=127.0.0.1 -p ${this.port} -k ${this.root} -c fsync=off -c max_connections=200`;
    this.run('pg_ctl', ['-D', this.dataDir, '-l', join(this.root, 'server.log'), '-o', options, '-w', '-t', '60', 'start']);
  }

  /** Stops the server at once (fast shutdown: open connections are cut). */
  stop(): void {
    this.run('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  /** Stops the server and removes its directory. */
  close(): void {
    this.stopNow();
    rmSync(this.root, { recursive: true, force: true });
  }

  /** Stops the server if it runs, ignoring errors (also used when the test process exits). */
  stopNow(): void {
    running.delete(this);
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) {
      try {
        this.stop();
      } catch {
        // the server is gone either way once its directory is removed
      }
    }
  }

  /** Runs a PostgreSQL program, as the `postgres` user when this process is root. */
  private run(program: string, args: string[]): void {
    const path = join(this.bin, program);
    const [command, commandArgs] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
    const result = spawnSync(command, commandArgs, { encoding: 'utf8', cwd: this.root });
    if (result.status !== 0) throw new Error(`${program} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
}
