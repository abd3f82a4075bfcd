// Real HTTP servers (express 5) implementing the OpenAPI documents of test/fixtures/openapi/:
// the Petstore (3.0), Redocly's Museum API (3.1) and the parameter-styles document. Each
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
export const MUSEUM_SPEC = `${FIXTURES}museum/openapi.yaml`;
export const STYLES_SPEC = `${FIXTURES}styles.yaml`;

/** The credentials the Museum server wants (its HTTP basic security); a route's headers carry them. */
export const MUSEUM_AUTH = `Basic ${Buffer.from('curator:museum-secret-password-0123456789').toString('base64')}`;

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

/** What the Museum server has to begin with: two special events, museum hours for four days. */
const SASQUATCH_BALLET = { eventId: 'f3e0e76e-e4a8-466e-ab9c-ae36c15b8e97', name: 'Sasquatch Ballet', location: 'Seattle... probably', eventDescription: 'Come learn how the biggest feet can have the lightest touch.', dates: ['2023-12-15', '2023-12-22'], price: 40 };
const PARROT_DEBATE = { eventId: 'a3c7b2c4-b5fb-4ef7-9322-00a919864957', name: 'The Great Parrot Debate', location: 'Outdoor Amphitheatre', eventDescription: 'See leading parrot minds discuss important geopolitical issues.', dates: ['2023-11-03', '2023-11-10'], price: 35 };
const HOURS = ['2023-09-11', '2023-09-12', '2023-09-13', '2023-09-14'].map((date) => ({ date, timeOpen: '09:00', timeClose: '18:00' }));
/** The first bytes of a PNG image: what the ticket QR code operation answers (as image/png). */
export const TICKET_PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0xff, 0xfe]);

function problem(res: Response, status: number, title: string): void {
  res.status(status).type('application/problem+json').send(JSON.stringify({ type: 'https://example.com/errors/problem', title }));
}

/** One page (`page`, `limit` query parameters, as the document's pagination parameters say) of `items`. */
function page<T>(req: Request, items: T[], defaultLimit: number): T[] {
  const limit = Number(req.query.limit ?? defaultLimit);
  const from = (Number(req.query.page ?? 1) - 1) * limit;
  return items.slice(from, from + limit);
}

/** The Museum API at /museum: every call must carry the route's `Authorization: MUSEUM_AUTH` (its HTTP basic security). */
export function startMuseum(t: TestContext): Promise<RestServer> {
  const events = new Map<string, Record<string, unknown>>([SASQUATCH_BALLET, PARROT_DEBATE].map((e) => [e.eventId, { ...e }]));
  const tickets = new Set<string>();
  let n = 0;
  return serve(t, '/museum', (app) => {
    app.use((req, res, next) => {
      if (req.headers.authorization !== MUSEUM_AUTH) problem(res, 401, 'Unauthorized');
      else next();
    });
    app.get('/museum/museum-hours', (req, res) => {
      const start = typeof req.query.startDate === 'string' ? req.query.startDate : '';
      res.json(page(req, HOURS.filter((h) => h.date >= start), 10));
    });
    app.get('/museum/special-events', (req, res) => {
      const start = typeof req.query.startDate === 'string' ? req.query.startDate : '';
      const end = typeof req.query.endDate === 'string' ? req.query.endDate : '9999';
      const within = [...events.values()].filter((e) => (e.dates as string[]).some((d) => d >= start && d <= end));
      res.json(page(req, within, 10));
    });
    app.post('/museum/special-events', (req, res) => {
      const event = { eventId: `dad4bce8-f5cb-4078-a211-99586431500${n++}`, ...(json(req) as Record<string, unknown>) };
      events.set(event.eventId, event);
      res.status(201).json(event);
    });
    app.get('/museum/special-events/:eventId', (req, res) => {
      const event = events.get(req.params.eventId);
      if (event) res.json(event);
      else problem(res, 404, `no special event ${req.params.eventId}`);
    });
    app.patch('/museum/special-events/:eventId', (req, res) => {
      const event = events.get(req.params.eventId);
      if (!event) return problem(res, 404, `no special event ${req.params.eventId}`);
      Object.assign(event, json(req));
      res.json(event);
    });
    app.delete('/museum/special-events/:eventId', (req, res) => {
      events.delete(req.params.eventId);
      res.status(204).end();
    });
    app.post('/museum/tickets', (req, res) => {
      const ticket = json(req) as { ticketType: string; ticketDate: string; eventId?: string };
      if (ticket.ticketType === 'event' && !events.has(ticket.eventId ?? '')) return problem(res, 404, `no special event ${ticket.eventId}`);
      const ticketId = `382c0820-0530-4f4b-99af-13811ad0f1${String(tickets.size).padStart(2, '0')}`;
      tickets.add(ticketId);
      const message = ticket.ticketType === 'event' ? 'Museum special event ticket purchased' : 'Museum general entry ticket purchased';
      res.status(201).json({ ...ticket, ticketId, message, confirmationCode: `ticket-${ticket.ticketType}-e5e5c6-${tickets.size}` });
    });
    app.get('/museum/tickets/:ticketId/qr', (req, res) => {
      if (tickets.has(req.params.ticketId)) res.type('image/png').send(TICKET_PNG);
      else problem(res, 404, `no ticket ${req.params.ticketId}`);
    });
  });
}

/** What /v1/big answers: more than the 16 MiB an openapi route reads of an answer. */
export const BIG_ANSWER_BYTES = 17 * 1024 * 1024;

/**
 * The styles document at /v1: every operation echoes the method, raw URL, headers and body it
 * got; /slow answers after `slowMs`; /big answers BIG_ANSWER_BYTES of "x" (text/plain, chunked).
 */
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
    app.get('/v1/big', (_req, res) => {
      const chunk = Buffer.alloc(1024 * 1024, 'x');
      let left = BIG_ANSWER_BYTES / chunk.length;
      // Stops writing when the client goes away (tapwire stops reading past 16 MiB).
      res.on('close', () => (left = 0));
      res.type('text/plain');
      const write = (): void => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        if (!res.writableEnded) res.end();
      };
      write();
    });
  });
}
