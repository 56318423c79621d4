// The OpenAPI document the server publishes validates against the OpenAPI 3.x schema, checked
// by a maintained validator (@seriousme/openapi-schema-validator), not by code written here.
// (That every API route is in it, and that a schema name means one shape, is checked by the
// web crate's unit tests.)
//
//   cd e2e && npm ci && LINLI_BIN=../target/debug/linli node --test openapi.test.mjs

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { buildDemo, freePort, startServer } from './helpers.mjs';

test('the published OpenAPI document validates', { timeout: 120_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'linli-e2e-openapi-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  await buildDemo(dataDir);
  const server = await startServer(dataDir, await freePort());
  t.after(() => server.stop());

  const res = await fetch(`${server.base}/api/v1/openapi.json`);
  assert.equal(res.status, 200);
  const doc = await res.json();
  const validator = new Validator();
  const result = await validator.validate(doc);
  assert.ok(result.valid, JSON.stringify(result.errors, null, 2)?.slice(0, 4000));
  assert.match(validator.version, /^3\./, `OpenAPI ${validator.version}`);
  // The collision this check was written after: requests and supplies each had a RequestBody.
  const body = doc.paths['/api/v1/requests'].post.requestBody.content['application/json'].schema.$ref;
  assert.equal(body, '#/components/schemas/RequestBody');
  assert.ok(doc.components.schemas.SupplyRequestBody, 'the supply request body has its own name');
});
