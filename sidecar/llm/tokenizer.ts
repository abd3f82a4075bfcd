// Token estimates for calls whose provider reported no usage, with the o200k_base BPE
// (GPT-4o and later). For Claude models it is an approximation; either way the exchange is
// flagged tokens_estimated = 1. The encoder is loaded on first use: most calls never need it.
type CountTokens = (text: string) => number;

let counter: Promise<CountTokens> | null = null;

export async function estimateTokens(text: string): Promise<number> {
  if (text === '') return 0;
  counter ??= import('gpt-tokenizer/encoding/o200k_base').then((m) => (t: string) => m.countTokens(t));
  return (await counter)(text);
}
