// Canned OpenAI Chat Completions traffic for the latency bench: the agent's request bodies
// and the upstream's answers (a JSON completion with usage, and an SSE stream of content
// chunks that, like api.openai.com, carries usage only when stream_options.include_usage
// asks for it). Shared by the mock upstream and the load generator's response checks.

export const BENCH_MODEL = 'gpt-4o-mini';
const RESPONSE_MODEL = 'gpt-4o-mini-2024-07-18';
const SYSTEM_FINGERPRINT = 'fp_0ba0d124f1';

/** A typical agent turn: system prompt, a short history, a tool definition. About 2 KB. */
function agentRequest(stream: boolean, includeUsage: boolean): Record<string, unknown> {
  return {
    model: BENCH_MODEL,
    messages: [
      {
        role: 'system',
        content:
          'You are a careful assistant embedded in a customer-support agent. Answer in plain English, cite the ' +
          'order number when you use one, never invent refund amounts, and call a tool when you need account data. ' +
          'Keep answers under 120 words unless the customer asks for detail.',
      },
      { role: 'user', content: 'Hi, I ordered a pair of trail running shoes last week (order 48213) and they have not arrived yet.' },
      {
        role: 'assistant',
        content: 'Sorry to hear that. Let me look up order 48213 for you — one moment while I check the shipping status.',
      },
      { role: 'user', content: 'Thanks. Also, if they are lost, can I get a refund instead of a replacement? I need them for a race on Saturday.' },
    ],
    tools: [
      {
        type: 'function',
        function: {
          name: 'lookup_order',
          description: 'Fetches an order by number: items, shipping carrier, tracking status and refund eligibility.',
          parameters: {
            type: 'object',
            properties: { order_number: { type: 'string', description: 'The order number, digits only.' } },
            required: ['order_number'],
          },
        },
      },
    ],
    temperature: 0.2,
    max_tokens: 400,
    ...(stream ? { stream: true } : {}),
    ...(stream && includeUsage ? { stream_options: { include_usage: true } } : {}),
  };
}

export function agentRequestBody(stream: boolean, includeUsage: boolean): Buffer {
  return Buffer.from(JSON.stringify(agentRequest(stream, includeUsage)));
}

/** A short agent turn (about 300 B): the comparative bench's request (bench/run.ts). */
export function shortRequestBody(stream: boolean): Buffer {
  return Buffer.from(
    JSON.stringify({
      model: BENCH_MODEL,
      messages: [
        { role: 'system', content: 'You are a concise support assistant. Cite the order number you use; never invent refunds.' },
        { role: 'user', content: 'Where is my order 48213? The trail shoes have not arrived and I need them for a race on Saturday.' },
      ],
      temperature: 0.2,
      max_tokens: 400,
      ...(stream ? { stream: true } : {}),
    }),
  );
}

/** The assistant's answer, split into the pieces a stream delivers one chunk each. */
const ANSWER_PIECES = [
  'I checked order 48213: ',
  'the shoes left our warehouse on Monday ',
  'and the carrier last scanned them in Denver ',
  'two days ago, so they look delayed rather than lost. ',
  'If they have not moved by tomorrow evening, ',
  'I can open a lost-package claim ',
  'and you can choose a full refund ',
  'to your original payment method instead of a replacement. ',
  'Would you like me to set a reminder ',
  'to check the tracking again tomorrow?',
];

const USAGE = {
  prompt_tokens: 262,
  completion_tokens: 71,
  total_tokens: 333,
  prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
};

/** The non-streamed answer. `id` is fixed-length so every response has the same size. */
export function completionBody(id: string, created: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      id,
      object: 'chat.completion',
      created,
      model: RESPONSE_MODEL,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: ANSWER_PIECES.join(''), refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: USAGE,
      service_tier: 'default',
      system_fingerprint: SYSTEM_FINGERPRINT,
    }),
  );
}

/** The default stream: one content chunk per answer piece. */
export const DEFAULT_STREAM_PIECES = ANSWER_PIECES.length;

/** Events in a stream of `pieces` content chunks: role chunk, pieces, finish chunk, [DONE] (usage chunk not counted). */
export function streamEventCount(pieces: number): number {
  return pieces + 3;
}

/**
 * The streamed answer as SSE frames: a role chunk, `pieces` content chunks (the answer
 * pieces, repeated as needed), a finish chunk, the usage chunk when `includeUsage` (every
 * other chunk then says "usage":null, as OpenAI's do), and [DONE].
 */
export function streamFrames(id: string, created: number, includeUsage: boolean, pieces = DEFAULT_STREAM_PIECES): string[] {
  const chunk = (choices: unknown[], usage?: unknown): string => {
    const body: Record<string, unknown> = {
      id,
      object: 'chat.completion.chunk',
      created,
      model: RESPONSE_MODEL,
      service_tier: 'default',
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices,
    };
    if (includeUsage) body.usage = usage ?? null;
    return `data: ${JSON.stringify(body)}\n\n`;
  };
  const frames = [chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }])];
  for (let i = 0; i < pieces; i++) {
    frames.push(chunk([{ index: 0, delta: { content: ANSWER_PIECES[i % ANSWER_PIECES.length] }, logprobs: null, finish_reason: null }]));
  }
  frames.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]));
  if (includeUsage) frames.push(chunk([], USAGE));
  frames.push('data: [DONE]\n\n');
  return frames;
}

/** Checks a response the agent received; returns what is wrong, or null when it is right. */
export function checkResponse(stream: boolean, includeUsage: boolean, status: number, body: string, pieces = DEFAULT_STREAM_PIECES): string | null {
  if (status !== 200) return `HTTP ${status}`;
  if (!stream) {
    try {
      const parsed = JSON.parse(body) as { usage?: { total_tokens?: number } };
      return parsed.usage?.total_tokens === USAGE.total_tokens ? null : 'completion without usage';
    } catch {
      return 'completion is not JSON';
    }
  }
  if (!body.endsWith('data: [DONE]\n\n')) return 'stream does not end with [DONE]';
  const frames = body.split('\n\n').length - 1;
  const expected = streamEventCount(pieces) + (includeUsage ? 1 : 0);
  if (frames !== expected) return `stream has ${frames} events, expected ${expected}`;
  if (!includeUsage && body.includes('"usage"')) return 'stream carries usage the agent did not ask for';
  return null;
}
