// The query string an LLM call's record keeps for replay (core/url-credentials.ts
// queryWithoutCredentials): every parameter but those named like a credential, however the
// name is written.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { queryWithoutCredentials } from '../../core/url-credentials.js';

test('credential parameters are left out, the others kept in order as sent', () => {
  assert.equal(queryWithoutCredentials('/v1beta/models/m:streamGenerateContent?alt=sse&key=AIzaSy-secret'), 'alt=sse');
  assert.equal(queryWithoutCredentials('/openai/deployments/d/chat/completions?api-version=2024-10-21'), 'api-version=2024-10-21');
  assert.equal(queryWithoutCredentials('/x?access_token=t&a=1&X-Amz-Signature=s&b=%20two&sig=z'), 'a=1&b=%20two');
});

test('a percent-encoded credential name is judged decoded; a malformed one as written', () => {
  assert.equal(queryWithoutCredentials('/x?api%5Fkey=secret&keep=1'), 'keep=1');
  assert.equal(queryWithoutCredentials('/x?bad%zzname=1&token=t'), 'bad%zzname=1');
});

test('no query, or nothing left of it: empty', () => {
  assert.equal(queryWithoutCredentials('/v1/chat/completions'), '');
  assert.equal(queryWithoutCredentials('/x?key=k&&'), '');
});
