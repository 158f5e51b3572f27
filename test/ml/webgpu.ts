/** WebGPU availability for tests: skip (with the reason) only when no adapter can be created at all. */
import { InferenceSession } from 'onnxruntime-node';
import { syntheticEncoder } from './fixtures.js';

let cached: Promise<string | null> | undefined;

/**
 * null if a WebGPU session can be created here; otherwise why not. With SHOEBOX_REQUIRE_WEBGPU=1 (CI after
 * `.ci/vulkan.sh`) an unavailable adapter throws instead, so the GPU tests cannot silently skip.
 */
export function webgpuUnavailableReason(): Promise<string | null> {
  cached ??= (async () => {
    try {
      const s = await InferenceSession.create(syntheticEncoder().bytes, { executionProviders: ['webgpu'], logSeverityLevel: 3 });
      await s.release();
      return null;
    } catch (e) {
      const why = `no WebGPU adapter (run .ci/vulkan.sh for Mesa lavapipe): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
      if (process.env.SHOEBOX_REQUIRE_WEBGPU === '1') throw new Error(why, { cause: e });
      return why;
    }
  })();
  return cached;
}
