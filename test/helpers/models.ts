/** Tests that need the bundled encoder fail (never skip) when it is missing: `npm test` builds it first. */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_ENCODER_ID } from '../../electron/core/encoders.js';
import { bundledModelsDir } from '../../electron/core/paths.js';

export function requireModel(id = DEFAULT_ENCODER_ID): void {
  const file = path.join(bundledModelsDir(), `${id}.onnx`);
  if (!fs.existsSync(file)) throw new Error(`bundled model ${id} is not built (${file}); run \`npm run build:models\``);
}
