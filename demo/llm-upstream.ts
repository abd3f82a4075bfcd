// The demo's LLM upstream: @copilotkit/aimock on 127.0.0.1, speaking the OpenAI and Anthropic
// wire formats (streamed and not) with fixed answers and realistic usage numbers. Each
// conversation of the scripted agent is a chain of fixtures: the first user message asks for
// a tool, each tool result (matched by its tool call id) leads to the next step.
import { LLMock } from '@copilotkit/aimock';

/** Tool call ids the scripted agent sends back with each tool result. */
export const CALL_IDS = {
  search: 'call_demo_search',
  read: 'call_demo_read',
  delete: 'call_demo_delete',
  weather: 'toolu_demo_weather',
} as const;

/** The first user message of each conversation, matched by the fixtures below. */
export const PROMPTS = {
  runbook: 'The on-call runbook still names the old escalation path. Find it, summarise the fix for oncall@example.com and remove the stale copy.',
  weather: 'What weather should the team expect in Lisbon for the offsite?',
} as const;

export const OPENAI_MODEL = 'gpt-4o-mini';
export const ANTHROPIC_MODEL = 'claude-haiku-4-5';

/** Starts the mock LLM upstream; stop it with `stop()`. */
export async function startLlmUpstream(): Promise<LLMock> {
  const mock = new LLMock({ host: '127.0.0.1', port: 0, logLevel: 'silent' });
  // The first fixture that matches wins, and a later request of a conversation still carries
  // its first user message: the tool-result steps are registered before the opening ones.
  mock.onToolResult(CALL_IDS.search, {
    toolCalls: [{ name: 'read_file', arguments: '{"path":"runbooks/on-call.md"}', id: CALL_IDS.read }],
    usage: { prompt_tokens: 286, completion_tokens: 24 },
  });
  mock.onToolResult(CALL_IDS.read, {
    toolCalls: [{ name: 'delete_file', arguments: '{"path":"runbooks/on-call.old.md"}', id: CALL_IDS.delete }],
    usage: { prompt_tokens: 471, completion_tokens: 27 },
  }, { latency: 120 });
  mock.onToolResult(CALL_IDS.delete, {
    content:
      'The runbook now pages the platform rotation first and the incident commander second. ' +
      'I could not remove runbooks/on-call.old.md: deleting files needs a human, so I left it for you.',
    usage: { prompt_tokens: 533, completion_tokens: 58 },
  }, { latency: 15, chunkSize: 12 });
  mock.onToolResult(CALL_IDS.weather, {
    content: 'Expect 21 °C and sun in Lisbon, with a breeze in the evening: plan the dinner indoors.',
    usage: { input_tokens: 402, output_tokens: 31 },
  }, { latency: 20, chunkSize: 10 });
  mock.onMessage(PROMPTS.runbook, {
    toolCalls: [{ name: 'search', arguments: '{"query":"on-call escalation"}', id: CALL_IDS.search }],
    usage: { prompt_tokens: 214, completion_tokens: 19 },
  });
  mock.onMessage(PROMPTS.weather, {
    toolCalls: [{ name: 'get_weather', arguments: '{"city":"Lisbon"}', id: CALL_IDS.weather }],
    usage: { input_tokens: 318, output_tokens: 42 },
  });
  await mock.start();
  return mock;
}
