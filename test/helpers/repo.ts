/** The repository's root and its compiled output, wherever a test file sits. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepo(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(d, 'package.json'))) {
    const up = path.dirname(d);
    if (up === d) throw new Error('package.json not found above the tests');
    d = up;
  }
  return d;
}

export const REPO = findRepo();
export const DIST = path.join(REPO, 'dist');
