// Options several commands share, checked while the command line is parsed, so a bad value
// stops the command before it opens a database or starts a server.
import { Option } from 'commander';
import { ConfigError, hostPortProblem } from '../config/config.js';

/** `--listen <host:port>`: a bad address is a ConfigError naming the flag (exit 2). */
export function listenOption(description: string, defaultValue?: string): Option {
  const option = new Option('--listen <host:port>', description).argParser((address: string) => {
    const problem = hostPortProblem(address);
    if (problem) throw new ConfigError(`--listen ${address}: ${problem}`);
    return address;
  });
  return defaultValue === undefined ? option : option.default(defaultValue);
}
