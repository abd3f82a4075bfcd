// The policy file tapwire runs with in the comparative bench ("everything on"): 10 rules of
// the kinds a real deployment has (model and tool deny lists, a header check, a token
// budget, a request rate limit, an audit, a redaction), written so that none refuses the
// bench's own traffic, so every applicable rule is evaluated on every exchange.
export const BENCH_RULE_COUNT = 10;

export function benchPolicyYaml(): string {
  const rules = [
    `  - { name: big-models-for-the-planner-only, when: 'llm.model.startsWith("gpt-5") && agent.name != "planner"', action: deny }`,
    `  - { name: no-reasoning-models, when: 'llm.model in ["o1", "o3", "o3-pro"]', action: deny }`,
    `  - { name: max-output, when: 'llm.max_tokens > 100000', action: deny }`,
    `  - { name: hourly-token-budget, when: 'protocol == "llm"', action: limit, limit: { tokens: 1000000000, per: 1h, key: agent.name } }`,
    `  - { name: no-destructive-tools, when: 'mcp.method == "tools/call" && mcp.tool in ["delete_file", "drop_table", "rm"]', action: deny }`,
    `  - { name: tool-rate, when: 'mcp.method == "tools/call"', action: limit, limit: { requests: 1000000000, per: 1m, key: mcp.tool } }`,
    `  - { name: secrets-audit, when: 'mcp.method == "tools/call" && "path" in mcp.arguments && mcp.arguments.path.startsWith("/etc")', action: audit }`,
    `  - { name: free-tier, when: '"tier" in agent.labels && agent.labels["tier"] == "free" && "x-priority" in request.headers', action: deny }`,
    `  - { name: no-a2a-shell, when: 'protocol == "a2a" && a2a.text.contains("rm -rf")', action: deny }`,
    `  - name: no-email-addresses-in-the-record\n    when: 'protocol == "llm"'\n    action: redact\n    redact: { patterns: ['[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}'] }`,
  ];
  if (rules.length !== BENCH_RULE_COUNT) throw new Error(`bench policy has ${rules.length} rules, not ${BENCH_RULE_COUNT}`);
  return `rules:\n${rules.join('\n')}\n`;
}
