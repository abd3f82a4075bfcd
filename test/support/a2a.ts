// Test harness for A2A integration tests with real, unmodified @a2a-js/sdk peers: a 1.3.0
// express server serving v1.0 and v0.3 on one port (legacyCompat, interfaces duplicated for
// v0.3), optionally signing its card; v1.0 (1.3.0) and v0.3 (0.3.14) SDK clients built from
// a card URL; a tapwire sidecar with a2a routes; and helpers to compare results.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import express from 'express';
import { AGENT_CARD_PATH, Role, TaskState, type AgentCard, type AgentCardSignatureGenerator, type Message, type Part } from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultRequestHandler,
  InMemoryPushNotificationStore,
  InMemoryTaskStore,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, restHandler, UserBuilder } from '@a2a-js/sdk/server/express';
import { duplicateInterfacesForLegacy } from '@a2a-js/sdk/compat/v0_3';
import { createLegacyAwarePushNotificationSender } from '@a2a-js/sdk/compat/v0_3/server';
import { ClientFactory, ClientFactoryOptions, type Client } from '@a2a-js/sdk/client';
import { ClientFactory as V03ClientFactory, ClientFactoryOptions as V03ClientFactoryOptions, type Client as V03Client } from 'a2a-v03/client';
import type { SendMessageRequest } from '@a2a-js/sdk';
import { startTestSidecarFor, type TestSidecar } from './sidecar.js';

export type Binding = 'JSONRPC' | 'HTTP+JSON';

export const AGENT_NAME = 'Planner Agent';

function textPart(text: string): Part {
  return { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' };
}

function now(): string {
  return new Date().toISOString();
}

/**
 * The agent's behaviour, by the first word of the message: "msg" answers with a bare
 * message; "ask" ends in input-required; "slow" works until it is canceled; anything else
 * answers with an artifact "echo: <text>" and completes.
 */
class ScriptedExecutor implements AgentExecutor {
  private readonly cancels = new Map<string, () => void>();

  cancelTask = (taskId: string): Promise<void> => {
    this.cancels.get(taskId)?.();
    return Promise.resolve();
  };

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { taskId, contextId, userMessage } = ctx;
    const first = userMessage.parts[0]?.content;
    const text = first?.$case === 'text' ? first.value : '';
    if (text.startsWith('msg')) {
      bus.publish(
        AgentEvent.message({ role: Role.ROLE_AGENT, messageId: crypto.randomUUID(), parts: [textPart(`pong ${text}`)], contextId, taskId: '', extensions: [], metadata: undefined, referenceTaskIds: [] }),
      );
      return;
    }
    const status = (state: TaskState, message?: Message) => ({ state, timestamp: now(), message });
    bus.publish(AgentEvent.task(ctx.task ?? { id: taskId, contextId, status: status(TaskState.TASK_STATE_SUBMITTED), artifacts: [], history: [userMessage], metadata: undefined }));
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_WORKING), metadata: undefined }));
    if (text.startsWith('slow')) {
      await new Promise<void>((resolve) => this.cancels.set(taskId, resolve));
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_CANCELED), metadata: undefined }));
      return;
    }
    if (text.startsWith('ask')) {
      const question: Message = { role: Role.ROLE_AGENT, messageId: crypto.randomUUID(), parts: [textPart('which city?')], contextId, taskId, extensions: [], metadata: undefined, referenceTaskIds: [] };
      bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_INPUT_REQUIRED, question), metadata: undefined }));
      return;
    }
    bus.publish(
      AgentEvent.artifactUpdate({
        taskId,
        contextId,
        artifact: { artifactId: 'a1', name: 'Result', description: '', parts: [textPart(`echo: ${text}`)], extensions: [], metadata: undefined },
        append: false,
        lastChunk: true,
        metadata: undefined,
      }),
    );
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_COMPLETED), metadata: undefined }));
  }
}

export interface A2aAgent {
  /** http://127.0.0.1:<port>: the base URL, where its card is. */
  origin: string;
  card: AgentCard;
  close(): Promise<void>;
}

export interface A2aAgentOptions {
  /** Signs every card the server hands out (public and extended). */
  sign?: AgentCardSignatureGenerator;
}

/** Starts an @a2a-js/sdk 1.3.0 agent serving v1.0 and v0.3, JSON-RPC at /a2a/jsonrpc and REST at /a2a/rest. */
export async function startA2aAgent(options: A2aAgentOptions = {}): Promise<A2aAgent> {
  const app = express();
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const card: AgentCard = {
    name: AGENT_NAME,
    description: 'Plans trips',
    version: '1.0.0',
    supportedInterfaces: duplicateInterfacesForLegacy(
      [
        { url: `${origin}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' },
        { url: `${origin}/a2a/rest`, protocolBinding: 'HTTP+JSON', tenant: '', protocolVersion: '1.0' },
      ],
      ['JSONRPC', 'HTTP+JSON'],
    ),
    provider: { organization: 'tapwire tests', url: 'https://example.com' },
    capabilities: { streaming: true, pushNotifications: true, extensions: [], extendedAgentCard: true },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text'],
    defaultOutputModes: ['text'],
    skills: [{ id: 'plan', name: 'Plan', description: 'Plans a trip', tags: ['travel'], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    documentationUrl: undefined,
    iconUrl: undefined,
    signatures: [],
  };
  const pushStore = new InMemoryPushNotificationStore();
  const handler = new DefaultRequestHandler(
    card,
    new InMemoryTaskStore(),
    new ScriptedExecutor(),
    undefined,
    pushStore,
    createLegacyAwarePushNotificationSender(pushStore, { timeout: 2000 }),
    { ...card, description: 'Plans trips (extended)' },
    options.sign,
  );
  const legacy = { legacyCompat: { enabled: true } };
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: handler, ...legacy }));
  app.use('/a2a/jsonrpc', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication, ...legacy }));
  app.use('/a2a/rest', restHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication, ...legacy }));
  return {
    origin,
    card,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface A2aRouteSpec {
  upstream: string;
  signed_cards?: 'strip' | 'pass';
}

/** Starts a sidecar with the given a2a routes; stopped and removed after the test. */
export async function startA2aTapwire(t: TestContext, routes: Record<string, A2aRouteSpec>): Promise<TestSidecar> {
  const lines = ['routes:'];
  for (const [name, spec] of Object.entries(routes)) {
    lines.push(`  ${name}:`, '    protocol: a2a', `    upstream: ${spec.upstream}`);
    if (spec.signed_cards) lines.push(`    signed_cards: ${spec.signed_cards}`);
  }
  return startTestSidecarFor(t, lines.join('\n'));
}

/** A v1.0 client (@a2a-js/sdk 1.3.0) built from the card found under `baseUrl`, preferring `binding`. */
export function v1Client(baseUrl: string, binding: Binding): Promise<Client> {
  return new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, { preferredTransports: [binding] })).createFromUrl(baseUrl);
}

/** A v0.3 client (@a2a-js/sdk 0.3.14, which sends no A2A-Version header) built from the card found under `baseUrl`. */
export function v03Client(baseUrl: string, binding: Binding): Promise<V03Client> {
  return new V03ClientFactory(V03ClientFactoryOptions.createFrom(V03ClientFactoryOptions.default, { preferredTransports: [binding] })).createFromUrl(baseUrl);
}

/** A v1.0 SendMessage request with one text part. */
export function sendRequest(text: string, configuration?: { returnImmediately: boolean }, metadata?: Record<string, string>): SendMessageRequest {
  return {
    tenant: '',
    message: { messageId: crypto.randomUUID(), contextId: '', taskId: '', role: Role.ROLE_USER, parts: [textPart(text)], metadata, extensions: [], referenceTaskIds: [] },
    configuration: configuration ? { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately: configuration.returnImmediately } : undefined,
    metadata: undefined,
  };
}

/** A value with its generated ids and timestamps replaced, so runs direct and through tapwire compare equal. */
export function normalised(value: unknown): unknown {
  const text = JSON.stringify(value, (_key, v: unknown) => (Buffer.isBuffer(v) ? v.toString('base64') : v))
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, '<time>');
  return JSON.parse(text) as unknown;
}

/** The message of an error, and its A2A code when the SDK error carries one. */
export async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error;
    return { name: e.constructor.name, message: e.message };
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Every element an async generator yields. */
export async function collect<T>(stream: AsyncGenerator<T, void, undefined>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream) out.push(item);
  return out;
}
