// Token usage normalised the way the OpenTelemetry GenAI conventions count it: input tokens
// include cached ones (read and written); cache and reasoning tokens are also kept apart.

export interface Usage {
  input_tokens: number | null;
  output_tokens: number | null;
  cache_read_tokens: number | null;
  cache_write_tokens: number | null;
  reasoning_tokens: number | null;
}

/** What an adapter learned from a response, streamed or not. */
export interface ResponseFacts {
  response_model: string | null;
  response_id: string | null;
  finish_reasons: string[];
  usage: Usage | null;
  /** The generated text, kept only to estimate tokens when the provider sent no usage. */
  output_text: string;
  error_code: string | null;
  error_message: string | null;
}

export function emptyFacts(): ResponseFacts {
  return { response_model: null, response_id: null, finish_reasons: [], usage: null, output_text: '', error_code: null, error_message: null };
}
