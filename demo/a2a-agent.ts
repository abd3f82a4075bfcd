// The demo's A2A agent, made with @a2a-js/sdk on express and 127.0.0.1: a "Research Agent"
// that takes a question, works on it as a task and completes it with an artifact.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { AGENT_CARD_PATH, TaskState, type AgentCard, type Part } from '@a2a-js/sdk';
import { AgentEvent, DefaultRequestHandler, InMemoryTaskStore, type AgentExecutor, type ExecutionEventBus, type RequestContext } from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';

export const RESEARCH_AGENT_NAME = 'Research Agent';

export function textPart(text: string): Part {
  return { content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' };
}

/** Answers venue questions from a short list, the way a research sub-agent would. */
class ResearchExecutor implements AgentExecutor {
  cancelTask = (): Promise<void> => Promise.resolve();

  async execute(ctx: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { taskId, contextId, userMessage } = ctx;
    const status = (state: TaskState) => ({ state, timestamp: new Date().toISOString(), message: undefined });
    bus.publish(AgentEvent.task(ctx.task ?? { id: taskId, contextId, status: status(TaskState.TASK_STATE_SUBMITTED), artifacts: [], history: [userMessage], metadata: undefined }));
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_WORKING), metadata: undefined }));
    await new Promise((resolve) => setTimeout(resolve, 40)); // research takes a moment
    const answer = 'Three venues for 12 people: LX Factory studio (river view), Palácio Chiado (private room), Second Home Lisboa (workshop space).';
    bus.publish(
      AgentEvent.artifactUpdate({
        taskId,
        contextId,
        artifact: { artifactId: 'venues', name: 'Venues', description: '', parts: [textPart(answer)], extensions: [], metadata: undefined },
        append: false,
        lastChunk: true,
        metadata: undefined,
      }),
    );
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId, status: status(TaskState.TASK_STATE_COMPLETED), metadata: undefined }));
  }
}

export interface DemoA2aAgent {
  /** http://127.0.0.1:<port>: the agent's base URL, where its card is. */
  origin: string;
  close(): Promise<void>;
}

/** Starts the agent: its card at /.well-known/agent-card.json, JSON-RPC at /a2a/jsonrpc. */
export async function startA2aAgent(): Promise<DemoA2aAgent> {
  const app = express();
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const card: AgentCard = {
    name: RESEARCH_AGENT_NAME,
    description: 'Finds venues, prices and facts for other agents',
    version: '1.0.0',
    supportedInterfaces: [{ url: `${origin}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', tenant: '', protocolVersion: '1.0' }],
    provider: { organization: 'tapwire demo', url: 'https://example.com' },
    capabilities: { streaming: true, pushNotifications: false, extensions: [], extendedAgentCard: false },
    securitySchemes: {},
    securityRequirements: [],
    defaultInputModes: ['text'],
    defaultOutputModes: ['text'],
    skills: [{ id: 'research', name: 'Research', description: 'Answers research questions', tags: ['research'], examples: [], inputModes: [], outputModes: [], securityRequirements: [] }],
    documentationUrl: undefined,
    iconUrl: undefined,
    signatures: [],
  };
  const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), new ResearchExecutor());
  app.use(`/${AGENT_CARD_PATH}`, agentCardHandler({ agentCardProvider: handler }));
  app.use('/a2a/jsonrpc', jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }));
  return {
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

