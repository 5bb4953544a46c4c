// npm run gen:client: writes src/client/openapi-types.ts from the OpenAPI document the server serves.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '../src/api/app.js';
import { renderTypes } from '../src/client/codegen.js';
import { openServices } from '../src/services.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kindred-gen-'));
const services = await openServices({ dataDir: dir, sweepIntervalMs: 0 });
const app = await buildApp({ services });
const res = await app.inject({ method: 'GET', url: '/api/openapi.json' });
const out = path.resolve(import.meta.dirname, '../src/client/openapi-types.ts');
writeFileSync(out, renderTypes(res.json()));
await app.close();
await services.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(`wrote ${out}\n`);
