// A Node agent that knows nothing of tapwire: the official OpenAI SDK calling its base URL,
// with undici's EnvHttpProxyAgent as the global dispatcher, so HTTPS_PROXY and
// NODE_EXTRA_CA_CERTS from its environment are all that send it through tapwire. Run as
// a child process (node openai-through-proxy.js BASE_URL API_KEY PROMPT); prints the answer.
import OpenAI from 'openai';
import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

const [baseURL, apiKey, prompt] = process.argv.slice(2);
setGlobalDispatcher(new EnvHttpProxyAgent());
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const completion = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt! }] });
process.stdout.write(JSON.stringify({ content: completion.choices[0]?.message.content ?? null }));
