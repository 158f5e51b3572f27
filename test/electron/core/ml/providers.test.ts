import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from 'onnxruntime-node';
import {
  NoProviderError,
  createSessionWithFallback,
  detectEnvironment,
  deviceChoices,
  planProviders,
  preferredOrder,
  sessionOptionsFor,
  type BackendInfo,
  type Device,
  type ProviderEnvironment,
} from '../../../../electron/core/ml/providers.js';
import { syntheticEncoder } from '../../../../bench/fixtures/encoders.js';

const b = (name: string, bundled = true): BackendInfo => ({ name, bundled });

/** What onnxruntime-node 1.30 reports per OS (CUDA is listed everywhere it is built, but not bundled). */
const BACKENDS: Record<string, BackendInfo[]> = {
  linux: [b('cpu'), b('webgpu'), b('cuda', false), b('tensorrt', false)],
  win32: [b('cpu'), b('dml'), b('webgpu'), b('cuda', false)],
  darwin: [b('cpu'), b('webgpu'), b('coreml')],
};

function env(platform: NodeJS.Platform, over: Partial<ProviderEnvironment> = {}): ProviderEnvironment {
  return { platform, backends: BACKENDS[platform], installed: new Set(), hardwareGpu: true, ...over };
}

void describe('deviceChoices', () => {
  it('offers automatic, the CPU and the providers of this OS only, saying why one cannot run', () => {
    const linux = deviceChoices(env('linux'));
    assert.deepEqual(linux.map((d) => d.device), ['auto', 'cpu', 'cuda', 'webgpu']);
    assert.equal(linux.find((d) => d.device === 'cuda')?.available, false);
    assert.match(linux.find((d) => d.device === 'cuda')?.reason ?? '', /not installed/);
    assert.equal(linux.find((d) => d.device === 'webgpu')?.available, true);
    assert.equal(deviceChoices(env('linux', { installed: new Set(['cuda']) })).find((d) => d.device === 'cuda')?.available, true);
    assert.deepEqual(deviceChoices(env('win32')).map((d) => d.device), ['auto', 'cpu', 'cuda', 'dml', 'webgpu']);
    assert.deepEqual(deviceChoices(env('darwin')).map((d) => d.device), ['auto', 'cpu', 'coreml', 'webgpu']);
    // This machine: whatever it has, the CPU runs.
    assert.equal(deviceChoices(detectEnvironment()).find((d) => d.device === 'cpu')?.available, true);
  });
});

void describe('planProviders', () => {
  void it('orders auto per OS and intersects with the binding', () => {
    assert.deepEqual(planProviders('auto', env('linux')).candidates, ['webgpu', 'cpu']);
    assert.deepEqual(planProviders('auto', env('linux', { installed: new Set(['cuda']) })).candidates, ['cuda', 'webgpu', 'cpu']);
    assert.deepEqual(planProviders('auto', env('win32')).candidates, ['dml', 'webgpu', 'cpu']);
    assert.deepEqual(planProviders('auto', env('win32', { installed: new Set(['cuda']) })).candidates, ['cuda', 'dml', 'webgpu', 'cpu']);
    assert.deepEqual(planProviders('auto', env('darwin')).candidates, ['coreml', 'webgpu', 'cpu']);
    // An unknown platform falls back to the Linux order, intersected with what is there.
    assert.deepEqual(planProviders('auto', env('linux', { platform: 'freebsd' })).candidates, ['webgpu', 'cpu']);
    // auto never reports providers that are simply absent.
    for (const p of ['linux', 'win32', 'darwin'] as const) assert.deepEqual(planProviders('auto', env(p)).skipped, []);
  });

  void it('drops providers the binding does not list', () => {
    const cpuOnly = env('darwin', { backends: [b('cpu')] });
    assert.deepEqual(planProviders('auto', cpuOnly).candidates, ['cpu']);
    const noWebgpu = env('win32', { backends: [b('cpu'), b('dml')] });
    assert.deepEqual(planProviders('auto', noWebgpu).candidates, ['dml', 'cpu']);
  });

  void it('skips software-only WebGPU in auto mode but honours an explicit request', () => {
    const headless = env('linux', { hardwareGpu: false });
    assert.deepEqual(planProviders('auto', headless).candidates, ['cpu']);
    assert.deepEqual(planProviders('webgpu', headless).candidates, ['webgpu', 'cpu']);
  });

  void it('puts an explicit device first with CPU as the safety net', () => {
    for (const d of ['webgpu', 'dml', 'coreml', 'cuda'] as Device[]) {
      const platform = d === 'dml' ? 'win32' : d === 'coreml' ? 'darwin' : 'linux';
      const installed = new Set(d === 'cuda' ? ['cuda'] : []);
      assert.deepEqual(planProviders(d, env(platform, { installed })).candidates, [d, 'cpu'], d);
    }
    assert.deepEqual(planProviders('cpu', env('linux')), { candidates: ['cpu'], skipped: [] });
  });

  void it('reports why an explicit device cannot be used', () => {
    const dmlOnLinux = planProviders('dml', env('linux'));
    assert.deepEqual(dmlOnLinux.candidates, ['cpu']);
    assert.equal(dmlOnLinux.skipped.length, 1);
    assert.equal(dmlOnLinux.skipped[0].provider, 'dml');
    assert.match(dmlOnLinux.skipped[0].error, /not supported/);

    const cudaMissing = planProviders('cuda', env('linux'));
    assert.deepEqual(cudaMissing.candidates, ['cpu']);
    assert.match(cudaMissing.skipped[0].error, /not installed/);
  });

  void it('always ends the preference order with cpu', () => {
    for (const p of ['linux', 'win32', 'darwin', 'freebsd'] as NodeJS.Platform[]) assert.equal(preferredOrder(p).at(-1), 'cpu');
  });

  void it('detects this process: cpu is always there, cuda only if its libraries are', () => {
    const e = detectEnvironment();
    assert.equal(e.platform, process.platform);
    assert.ok(e.backends.some((x) => x.name === 'cpu'));
    for (const name of e.installed) assert.equal(e.backends.find((x) => x.name === name)?.bundled, false);
  });
});

void describe('sessionOptionsFor', () => {
  void it('tunes for throughput', () => {
    const o = sessionOptionsFor('cpu', { threads: 3 });
    assert.equal(o.graphOptimizationLevel, 'all');
    assert.equal(o.intraOpNumThreads, 3);
    assert.equal(o.executionMode, 'sequential');
    assert.deepEqual(o.executionProviders, ['cpu']);
    assert.equal(sessionOptionsFor('dml').enableMemPattern, false);
  });
});

void describe('createSessionWithFallback', () => {
  const { bytes } = syntheticEncoder();

  void it('falls back past a provider that cannot create a session', async () => {
    const got = await createSessionWithFallback(bytes, 'auto', { candidates: ['no-such-ep', 'cpu'] });
    try {
      assert.equal(got.provider, 'cpu');
      assert.equal(got.fallbacks.length, 1);
      assert.equal(got.fallbacks[0].provider, 'no-such-ep');
      assert.match(got.fallbacks[0].error, /no-such-ep/);
      assert.ok((got.placement?.CPUExecutionProvider ?? 0) > 0);
      const out = await got.session.run({ input: new Tensor('float32', new Float32Array(24 * 32 * 3), [1, 24, 32, 3]) });
      assert.deepEqual(out.embedding.dims, [1, 24]);
    } finally {
      await got.release();
    }
  });

  void it('falls back past a provider whose probe run fails', async () => {
    const tried: string[] = [];
    const got = await createSessionWithFallback(bytes, 'webgpu', {
      probe: (_s, provider) => {
        tried.push(provider);
        return provider === 'webgpu' ? Promise.reject(new Error('simulated GPU fault')) : Promise.resolve();
      },
    });
    try {
      assert.equal(got.provider, 'cpu');
      assert.equal(got.fallbacks[0].provider, 'webgpu');
      // Without an adapter the session cannot even be created; with one, the probe is what fails.
      if (tried.includes('webgpu')) assert.equal(got.fallbacks[0].error, 'simulated GPU fault');
    } finally {
      await got.release();
    }
  });

  void it('reports every failure when nothing works', async () => {
    await assert.rejects(
      createSessionWithFallback(bytes, 'auto', { candidates: ['bogus-a', 'bogus-b'] }),
      (e: unknown) => e instanceof NoProviderError && e.fallbacks.map((f) => f.provider).join() === 'bogus-a,bogus-b',
    );
  });

  void it('releases sessions explicitly and idempotently', async () => {
    const got = await createSessionWithFallback(bytes, 'cpu');
    assert.deepEqual(got.fallbacks, []);
    await got.release();
    await got.release();
    await assert.rejects(got.session.run({ input: new Tensor('float32', new Float32Array(24 * 32 * 3), [1, 24, 32, 3]) }));
  });
});
