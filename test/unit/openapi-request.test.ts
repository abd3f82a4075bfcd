// protocols/openapi/request.ts: tool arguments as the HTTP request of their operation, one
// case per row of the OpenAPI style table (3.1.1, whose path styles follow RFC 6570) that
// tapwire sends, with the table's own example values (color: blue / blue,black,brown /
// R=100,G=200,B=150), and the refusals of what no request can carry.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Operation, Parameter } from '../../protocols/openapi/operations.js';
import { ArgumentError, buildRequest } from '../../protocols/openapi/request.js';

const STRING = 'blue';
const ARRAY = ['blue', 'black', 'brown'];
const OBJECT = { R: 100, G: 200, B: 150 };

function parameter(location: Parameter['in'], style: string, explode: boolean, extra: Partial<Parameter> = {}): Parameter {
  return { name: 'color', in: location, argument: 'color', required: false, style, explode, allowReserved: false, json: false, ...extra };
}

function operation(parameters: Parameter[], path = '/things', body: Operation['body'] = null): Operation {
  return { tool: { name: 'op', description: '', inputSchema: {} }, method: 'GET', path, operationId: 'op', tags: [], parameters, body, wrapsOutput: false };
}

/** The serialized `value` of one parameter: the path after /things/, the query, or the header. */
function serialized(p: Parameter, value: unknown): string {
  const op = operation([p], p.in === 'path' ? '/things/{color}' : '/things');
  const request = buildRequest(op, { color: value });
  if (p.in === 'path') return request.path.slice('/things/'.length);
  if (p.in === 'query') return request.path.split('?')[1] ?? '';
  return p.in === 'header' ? request.headers.color! : request.headers.cookie!;
}

describe('openapi request: the style table', () => {
  const rows: [Parameter, string, string, string][] = [
    [parameter('path', 'simple', false), 'blue', 'blue,black,brown', 'R,100,G,200,B,150'],
    [parameter('path', 'simple', true), 'blue', 'blue,black,brown', 'R=100,G=200,B=150'],
    [parameter('path', 'label', false), '.blue', '.blue,black,brown', '.R,100,G,200,B,150'],
    [parameter('path', 'label', true), '.blue', '.blue.black.brown', '.R=100.G=200.B=150'],
    [parameter('path', 'matrix', false), ';color=blue', ';color=blue,black,brown', ';color=R,100,G,200,B,150'],
    [parameter('path', 'matrix', true), ';color=blue', ';color=blue;color=black;color=brown', ';R=100;G=200;B=150'],
    [parameter('query', 'form', false), 'color=blue', 'color=blue,black,brown', 'color=R,100,G,200,B,150'],
    [parameter('query', 'form', true), 'color=blue', 'color=blue&color=black&color=brown', 'R=100&G=200&B=150'],
    [parameter('header', 'simple', false), 'blue', 'blue,black,brown', 'R,100,G,200,B,150'],
    [parameter('header', 'simple', true), 'blue', 'blue,black,brown', 'R=100,G=200,B=150'],
    [parameter('cookie', 'form', false), 'color=blue', 'color=blue,black,brown', 'color=R,100,G,200,B,150'],
  ];
  for (const [p, string, array, object] of rows) {
    test(`${p.in} ${p.style}, explode ${p.explode}`, () => {
      assert.equal(serialized(p, STRING), string);
      assert.equal(serialized(p, ARRAY), array);
      assert.equal(serialized(p, OBJECT), object);
    });
  }

  test('query spaceDelimited, pipeDelimited and deepObject', () => {
    assert.equal(serialized(parameter('query', 'spaceDelimited', false), ARRAY), 'color=blue%20black%20brown');
    assert.equal(serialized(parameter('query', 'pipeDelimited', false), ARRAY), 'color=blue%7Cblack%7Cbrown');
    assert.equal(serialized(parameter('query', 'deepObject', true), OBJECT), 'color%5BR%5D=100&color%5BG%5D=200&color%5BB%5D=150');
  });

  test('values are percent-encoded (allowReserved keeps reserved characters in a query); a content parameter is JSON', () => {
    assert.equal(serialized(parameter('query', 'form', true), 'a b&c/d'), 'color=a%20b%26c%2Fd');
    assert.equal(serialized(parameter('query', 'form', true, { allowReserved: true }), 'a b&c/d'), 'color=a%20b&c/d');
    assert.equal(serialized(parameter('path', 'simple', false), '../x'), '..%2Fx');
    assert.equal(serialized(parameter('query', 'form', true, { json: true }), { a: 1 }), 'color=%7B%22a%22%3A1%7D');
  });
});

describe('openapi request: bodies and refusals', () => {
  test('JSON, form and text bodies carry their content type', () => {
    const json = buildRequest(operation([], '/x', { mediaType: 'application/json', required: true }), { body: { a: [1] } });
    assert.deepEqual([json.body, json.headers['content-type']], ['{"a":[1]}', 'application/json']);
    const form = buildRequest(operation([], '/x', { mediaType: 'application/x-www-form-urlencoded', required: true }), { body: { a: 'x y', b: 2 } });
    assert.equal(form.body, 'a=x%20y&b=2');
    const text = buildRequest(operation([], '/x', { mediaType: 'text/plain', required: false }), { body: 'hello' });
    assert.equal(text.body, 'hello');
    assert.equal(buildRequest(operation([], '/x', { mediaType: 'text/plain', required: false }), {}).body, null);
  });

  test('what no request can be made from is an ArgumentError naming the argument', () => {
    const refused = (op: Operation, args: Record<string, unknown>): string => {
      try {
        buildRequest(op, args);
      } catch (err) {
        assert.ok(err instanceof ArgumentError);
        return err.message;
      }
      assert.fail('no error');
    };
    assert.equal(refused(operation([{ ...parameter('path', 'simple', false), required: true }], '/things/{color}'), {}), 'missing argument color (the path parameter color)');
    assert.equal(refused(operation([], '/x', { mediaType: 'application/json', required: true }), {}), 'missing argument body (the request body)');
    assert.equal(refused(operation([parameter('header', 'simple', false)]), { color: 'a\r\nx-injected: 1' }), 'argument color (the header color) cannot hold a line break');
    assert.equal(refused(operation([parameter('query', 'deepObject', true)]), { color: [1] }), 'argument color must be an object (the query parameter color has style deepObject)');
    assert.equal(refused(operation([parameter('query', 'matrix', false)]), { color: 1 }), 'the query parameter color has style matrix, which a query cannot carry');
  });
});
