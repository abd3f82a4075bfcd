// Test harness for terminal programs: runs a command in a detached tmux session on a private
// socket (its own tmux server), at a fixed size, types into it and reads the screen back.
// After the command exits the pane shows `[exit N]` and stays, so its last words can be read.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let sessions = 0;

export class Tmux {
  readonly socket = `tapwire-test-${process.pid}-${++sessions}`;
  private readonly configDir = mkdtempSync(join(tmpdir(), 'tapwire-tmux-'));

  /** Starts `command` (one shell line) in `cwd`, in a width x height window. */
  constructor(command: string, options: { cwd: string; width?: number; height?: number; env?: Record<string, string> }) {
    const config = join(this.configDir, 'tmux.conf');
    // A known terminal type for blessed; OSC 52 copies go to tmux's paste buffer.
    writeFileSync(config, ['set -g default-terminal xterm-256color', 'set -g set-clipboard on', ''].join('\n'));
    const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
    this.tmux('-f', config, 'new-session', '-d', '-s', 'main', '-x', String(options.width ?? 160), '-y', String(options.height ?? 40), '-c', options.cwd, ...env, `${command}; echo "[exit $?]"; exec sleep 3600`);
    this.socketPath = this.tmux('display-message', '-p', '#{socket_path}').trim();
  }

  /** The server's socket file, which kill-server leaves behind. */
  private readonly socketPath: string;

  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /** Sends keys by tmux name (Enter, Escape, Tab, C-c) or single characters. */
  keys(...keys: string[]): void {
    this.tmux('send-keys', '-t', 'main', ...keys);
  }

  /** Types text literally. */
  type(text: string): void {
    this.tmux('send-keys', '-t', 'main', '-l', text);
  }

  /** The visible screen as text, one line per row. */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 'main');
  }

  /** tmux's newest paste buffer (what an OSC 52 copy put there), or '' when none. */
  pasteBuffer(): string {
    try {
      return this.tmux('show-buffer');
    } catch {
      return '';
    }
  }

  /** Polls the screen until `check` passes on it; fails with the last screen after `timeoutMs`. */
  async waitFor(check: RegExp | ((screen: string) => boolean), what: string, timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = this.screen();
      if (typeof check === 'function' ? check(last) : check.test(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`timed out waiting for ${what}; the screen was:\n${last}`);
  }

  /** Stops this test's tmux server and the program in it. */
  kill(): void {
    try {
      this.tmux('kill-server');
    } catch {
      // Already gone.
    }
    rmSync(this.configDir, { recursive: true, force: true });
    rmSync(this.socketPath, { force: true });
  }
}
