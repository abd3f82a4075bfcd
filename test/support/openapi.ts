// Real HTTP servers (express 5) implementing the OpenAPI documents of test/fixtures/openapi/:
// the Petstore (3.0), the Train Travel API (3.1) and the parameter-styles document. Each
// keeps every request it received (method, raw URL, headers, body as text) so tests can see
// what tapwire's REST calls looked like on the wire. Loopback, OS-picked port, closed when
// the test ends.
import { once } from 'node:events';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import express, { type Request, type Response } from 'express';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/openapi/', import.meta.url));
export const PETSTORE_SPEC = `${FIXTURES}petstore-expanded.yaml`;
export const TRAIN_SPEC = `${FIXTURES}train-travel/openapi.yaml`;
export const STYLES_SPEC = `${FIXTURES}styles.yaml`;

/** The bearer token the Train Travel server wants (its OAuth2 security); a route's headers carry it. */
export const TRAIN_TOKEN = 'train-travel-secret-token-0123456789';

export interface ReceivedCall {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RestServer {
  /** Its base URL, the route's upstream. */
  url: string;
  calls: ReceivedCall[];
}

async function serve(t: TestContext, base: string, build: (app: express.Express) => void): Promise<RestServer> {
  const calls: ReceivedCall[] = [];
  const app = express();
  app.use(express.text({ type: '*/*' }));
  app.use((req, _res, next) => {
    calls.push({ method: req.method, url: req.originalUrl, headers: req.headers, body: typeof req.body === 'string' ? req.body : '' });
    next();
  });
  build(app);
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${base}`, calls };
}

function json(req: Request): unknown {
  return JSON.parse(req.body as string) as unknown;
}

/** The Petstore at /api: pets 1 and 2 to begin with. */
export function startPetstore(t: TestContext): Promise<RestServer> {
  const pets = new Map<number, { id: number; name: string; tag?: string }>([
    [1, { id: 1, name: 'Rex', tag: 'dog' }],
    [2, { id: 2, name: 'Tom', tag: 'cat' }],
  ]);
  let next = 3;
  return serve(t, '/api', (app) => {
    app.get('/api/pets', (req, res) => {
      const tags = ([] as unknown[]).concat(req.query.tags ?? []);
      const limit = Number(req.query.limit ?? 100);
      res.json([...pets.values()].filter((p) => tags.length === 0 || tags.includes(p.tag)).slice(0, limit));
    });
    app.post('/api/pets', (req, res) => {
      const pet = { id: next++, ...(json(req) as { name: string; tag?: string }) };
      pets.set(pet.id, pet);
      res.json(pet);
    });
    app.get('/api/pets/:id', (req, res) => {
      const pet = pets.get(Number(req.params.id));
      if (pet) res.json(pet);
      else res.status(404).json({ code: 404, message: `no pet ${req.params.id}` });
    });
    app.delete('/api/pets/:id', (req, res) => {
      pets.delete(Number(req.params.id));
      res.status(204).end();
    });
  });
}

const BERLIN = { id: 'efdbb9d1-02c2-4bc3-afb7-6788d8782b1e', name: 'Berlin Hauptbahnhof', address: 'Invalidenstraße 10557 Berlin, Germany', country_code: 'DE', timezone: 'Europe/Berlin' };
const PARIS = { id: 'b2e783e1-c824-4d63-b37a-d8d698862f1d', name: 'Paris Gare du Nord', address: '18 Rue de Dunkerque 75010 Paris, France', country_code: 'FR', timezone: 'Europe/Paris' };

function problem(res: Response, status: number, title: string): void {
  res.status(status).type('application/problem+json').send(JSON.stringify({ type: 'https://example.com/errors/problem', title, status }));
}

/** The Train Travel API at /: every call must carry `Authorization: Bearer TRAIN_TOKEN`. */
export function startTrainTravel(t: TestContext): Promise<RestServer> {
  const bookings = new Map<string, Record<string, unknown>>();
  let n = 0;
  const self = (path: string): string => `https://api.example.com${path}`;
  return serve(t, '', (app) => {
    app.use((req, res, next) => {
      if (req.headers.authorization !== `Bearer ${TRAIN_TOKEN}`) problem(res, 401, 'Unauthorized');
      else next();
    });
    app.get('/stations', (req, res) => {
      const search = typeof req.query.search === 'string' ? req.query.search.toLowerCase() : null;
      const data = [BERLIN, PARIS].filter((s) => (!search || s.name.toLowerCase().includes(search)) && (!req.query.country || s.country_code === req.query.country));
      res.json({ data, links: { self: self(req.originalUrl) } });
    });
    app.get('/trips', (req, res) => {
      const { origin, destination, date } = req.query;
      if (typeof origin !== 'string' || typeof destination !== 'string' || typeof date !== 'string') return problem(res, 400, 'origin, destination and date are required');
      const trip = {
        id: '4f4e4e1c-c824-4d63-b37a-d8d698862f1d',
        origin,
        destination,
        departure_time: '2024-02-01T10:00:00Z',
        arrival_time: '2024-02-01T16:00:00Z',
        operator: 'Deutsche Bahn',
        price: 50,
        bicycles_allowed: req.query.bicycles === 'true',
        dogs_allowed: req.query.dogs === 'true',
      };
      res.json({ data: [trip], links: { self: self(req.originalUrl) } });
    });
    app.get('/bookings', (req, res) => res.json({ data: [...bookings.values()], links: { self: self(req.originalUrl) } }));
    app.post('/bookings', (req, res) => {
      const id = `1725ff48-ab45-4bb5-9d02-88745177ded${n++}`;
      const booking = { ...(json(req) as Record<string, unknown>), id };
      bookings.set(id, booking);
      res.status(201).json({ ...booking, links: { self: self(`/bookings/${id}`) } });
    });
    app.get('/bookings/:id', (req, res) => {
      const booking = bookings.get(req.params.id);
      if (booking) res.json(booking);
      else problem(res, 404, `no booking ${req.params.id}`);
    });
    app.delete('/bookings/:id', (req, res) => {
      bookings.delete(req.params.id);
      res.status(204).end();
    });
    app.post('/bookings/:id/payment', (req, res) => {
      const payment = json(req) as Record<string, unknown>;
      res.json({ ...payment, id: '2e3b4f5a-6b7c-8d9e-0f1a-2b3c4d5e6f7a', status: 'succeeded', links: { booking: self(`/bookings/${req.params.id}`) } });
    });
  });
}

/** The styles document at /v1: every operation echoes the method, raw URL, headers and body it got; /slow answers after `slowMs`. */
export function startStyles(t: TestContext, slowMs: number): Promise<RestServer> {
  return serve(t, '/v1', (app) => {
    const echo = (req: Request, res: Response): void => {
      res.json({ method: req.method, url: req.originalUrl, headers: { 'x-request-id': req.headers['x-request-id'], 'x-dims': req.headers['x-dims'], cookie: req.headers.cookie, 'content-type': req.headers['content-type'] }, body: typeof req.body === 'string' ? req.body : '' });
    };
    app.get(/^\/v1\/paths\//, echo);
    app.get('/v1/search', echo);
    app.post('/v1/forms', echo);
    app.get('/v1/slow', (_req, res) => {
      const timer = setTimeout(() => res.json({ late: true }), slowMs);
      res.on('close', () => clearTimeout(timer));
    });
  });
}
