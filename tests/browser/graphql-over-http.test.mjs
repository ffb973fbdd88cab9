// The GraphQL-over-HTTP spec's own audit (graphql-http `serverAudits`) against a
// real `dxdesk serve`, in development and in production: every MUST and SHOULD
// passes; MAYs (GET requests, which dxdesk does not serve) are reported only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';
import { startServer } from './harness.mjs';

for (const mode of ['development', 'production']) {
  describe(`dxdesk serve (${mode})`, () => {
    let server;

    before(async () => {
      server = await startServer({ frontend: false, env: { DXDESK_ENV: mode } });
    });

    after(async () => {
      await server?.stop();
    });

    test('graphql-http server audits: every MUST and SHOULD passes', async (t) => {
      const failed = [];
      for (const audit of serverAudits({ url: `${server.base}/graphql` })) {
        const result = await audit.fn();
        if (result.status === 'ok') continue;
        let body = '';
        try {
          body = await result.response?.text();
        } catch {
          /* already read */
        }
        const line = `${audit.id} ${audit.name}: ${result.reason} (${result.response?.status}) ${body ?? ''}`.slice(0, 400);
        if (/^(MUST|SHOULD)/.test(audit.name)) failed.push(line);
        else t.diagnostic(`optional: ${line}`);
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
  });
}
