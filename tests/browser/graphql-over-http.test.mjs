// The GraphQL-over-HTTP spec's own audit (graphql-http `serverAudits`) against a
// real `dxdesk serve`: every MUST and SHOULD passes; MAYs are reported only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { startServer } from './harness.mjs';

let server;

before(async () => {
  server = await startServer({ frontend: false });
});

after(async () => {
  await server?.stop();
});

test('graphql-http server audits: every MUST and SHOULD passes', async (t) => {
  const audits = serverAudits({ url: `${server.base}/graphql` });
  const failed = [];
  for (const audit of audits) {
    const result = await audit.fn();
    const required = /^(MUST|SHOULD)/.test(audit.name);
    if (result.status !== 'ok') {
      let body = '';
      try {
        body = await result.response?.text();
      } catch {
        /* already read */
      }
      const line = `${audit.id} ${audit.name}: ${result.reason} (${result.response?.status}) ${body ?? ''}`.slice(0, 400);
      if (required) failed.push(line);
      else t.diagnostic(`optional: ${line}`);
    }
  }
  assert.deepEqual(failed, [], `failing audits:\n${failed.join('\n')}`);
});

test('a form post from another site is not executed', async () => {
  const res = await fetch(`${server.base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'query=mutation%7BsubmitConsultation%7D',
  });
  assert.equal(res.status, 415);
  const body = await res.json();
  assert.equal(body.errors[0].extensions.code, 'BAD_USER_INPUT');
});
