// The plain HTTP protocol handler: any other API, its bodies streamed through and each call
// recorded as one HTTP exchange.
import type { RouteConfig } from '../config/config.js';
import { PlainHttpObserver } from './observer.js';
import type { CallFacts, HandlerEnvironment, Observation, ProtocolCall, ProtocolHandler } from './protocol.js';

export class HttpHandler implements ProtocolHandler {
  readonly readsRequestBody = false;
  private readonly observer: PlainHttpObserver;

  constructor(env: HandlerEnvironment) {
    // The observer keeps no state of its own: one serves every call.
    this.observer = new PlainHttpObserver(env.sink);
  }

  parse(call: ProtocolCall): CallFacts {
    return { observe: (): Observation => ({ observer: this.observer, path: call.rest }) };
  }

  errorBody(_route: RouteConfig, _path: string, _status: number, code: string, message: string): unknown {
    return { error: { code, message } };
  }
}
