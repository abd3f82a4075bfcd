// Canned MCP traffic for the comparative bench: an agent's tools/call over Streamable HTTP
// (a JSON-RPC request answered with application/json, as stateless MCP servers do) and the
// server's result. Shared by the mock upstream and the load generator's response checks.

export const MCP_PATH = '/mcp';
export const MCP_TOOL = 'lookup_order';

/** What an MCP client sends with each POST (the protocol version header of 2025-06-18 and later). */
export const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  'mcp-protocol-version': '2025-06-18',
};

const RESULT_TEXT =
  'Order 48213: 1 × Trail Runner 4 (size 42). Shipped Monday with ParcelPost, tracking PP482130017; last scan ' +
  'Denver hub two days ago, status "in transit, delayed". Refund eligible until 2026-12-21.';

export function toolCallBody(id: number): Buffer {
  return Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: MCP_TOOL, arguments: { order_number: '48213' } } }));
}

export function toolResultBody(id: unknown): Buffer {
  return Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: RESULT_TEXT }], isError: false } }));
}

/** Checks a tools/call answer the agent received; returns what is wrong, or null when it is right. */
export function checkToolResult(id: number, status: number, body: string): string | null {
  if (status !== 200) return `HTTP ${status}`;
  try {
    const parsed = JSON.parse(body) as { id?: unknown; result?: { content?: { text?: string }[] } };
    if (parsed.id !== id) return 'answer carries another id';
    return parsed.result?.content?.[0]?.text === RESULT_TEXT ? null : 'tools/call result is not the tool\'s text';
  } catch {
    return 'tools/call answer is not JSON';
  }
}
