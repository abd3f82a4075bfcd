// One scripted MCP session against @modelcontextprotocol/server-everything, for comparing
// what an SDK client gets straight from the server with what it gets through tapwire:
// tools (with a progress-reporting call), resources and prompts; and whether a server
// process tapwire started still runs.
import { createRequire } from 'node:module';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';

/** server-everything's entry point: run it with the argument `stdio`. */
export const EVERYTHING = createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/dist/index.js');

export type EverythingResults = Awaited<ReturnType<typeof everythingSession>>;

export async function everythingSession(client: Client) {
  const tools = await client.listTools();
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'hello through tapwire' } });
  const sum = await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
  const progress: Progress[] = [];
  const longRunning = await client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.2, steps: 3 } }, undefined, {
    onprogress: (p) => progress.push(p),
  });
  const resources = await client.listResources();
  const resourceUri = resources.resources[0]!.uri;
  const resource = await client.readResource({ uri: resourceUri });
  const prompts = await client.listPrompts();
  const prompt = await client.getPrompt({ name: 'simple-prompt' });
  return { tools, echo, sum, longRunning, progress, resources, resourceUri, resource, prompts, prompt };
}

/**
 * The results without the progress notifications: how many a client sees depends on timing
 * inside the SDK (the last one can arrive together with the response, which removes the
 * progress handler first), so they are compared with `isProgressOfThreeSteps` instead.
 */
export function withoutProgress(results: EverythingResults): Omit<EverythingResults, 'progress'> {
  const rest: Partial<EverythingResults> = { ...results };
  delete rest.progress;
  return rest as Omit<EverythingResults, 'progress'>;
}

/** True when `progress` is steps of the 3-step operation, in order (the server always sends all 3). */
export function isProgressOfThreeSteps(progress: Progress[]): boolean {
  return progress.length <= 3 && progress.every((p, i) => p.progress === i + 1 && p.total === 3);
}

/** True while the process `pid` exists (a stdio server tapwire started, or tapwire wrap). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
