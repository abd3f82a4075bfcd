// Token estimates for calls whose provider reported no usage, with the o200k_base BPE
// (GPT-4o and later). For Claude models it is an approximation; either way the exchange is
// flagged tokens_estimated = 1. The encoder is loaded on first use: most calls never need it.
//
// BPE merges within one pre-token take time quadratic in its length: a 64 KiB base64 blob
// with no space in it takes seconds, on the event loop every call shares. So text is counted
// in pieces that hold no run of non-space characters longer than MAX_RUN (cut there: the
// count of such a run shifts by a token or so), and past MAX_COUNTED characters the count
// is extrapolated from what was counted.
type CountTokens = (text: string) => number;

let counter: Promise<CountTokens> | null = null;

/** The longest run of non-whitespace counted in one piece. */
export const MAX_RUN = 1024;
/** The most characters in one piece (cut at whitespace where there is one). */
const MAX_PIECE = 4096;
/** Characters counted exactly; the rest of a longer text is extrapolated. */
export const MAX_COUNTED = 1 << 20;

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/** Cuts `text` into pieces of at most MAX_PIECE characters with no run longer than MAX_RUN. */
export function tokenPieces(text: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  let run = 0;
  let lastSpace = -1;
  for (let i = 0; i < text.length; i++) {
    if (isSpace(text.charCodeAt(i))) {
      run = 0;
      lastSpace = i;
    } else if (++run > MAX_RUN) {
      pieces.push(text.slice(start, i));
      start = i;
      run = 1;
      lastSpace = -1;
      continue;
    }
    if (i + 1 - start >= MAX_PIECE) {
      // Cut before the last space, so the next piece starts with it, as the BPE's words do.
      const cut = lastSpace > start ? lastSpace : i + 1;
      pieces.push(text.slice(start, cut));
      start = cut;
      lastSpace = -1;
      run = cut === i + 1 ? 0 : i + 1 - (cut + 1);
    }
  }
  if (start < text.length) pieces.push(text.slice(start));
  return pieces;
}

export async function estimateTokens(text: string): Promise<number> {
  if (text === '') return 0;
  counter ??= import('gpt-tokenizer/encoding/o200k_base').then((m) => (t: string) => m.countTokens(t));
  const count = await counter;
  const counted = text.length > MAX_COUNTED ? text.slice(0, MAX_COUNTED) : text;
  let tokens = 0;
  for (const piece of tokenPieces(counted)) tokens += count(piece);
  return counted.length === text.length ? tokens : Math.round((tokens * text.length) / counted.length);
}
