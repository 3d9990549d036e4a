/** Test helpers: read the PyTorch reference fixtures (scripts/reference/sae_reference.py). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'sae');

export function readFixture<T = any>(name: string): T {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}

export { saeCfgFrom, trainerCfgFrom, saeFromRun, compare, type Mismatch } from './runConfigs.js';
