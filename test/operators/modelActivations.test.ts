import * as tf from '@tensorflow/tfjs-core';
import { lastValueFrom, from, of, take, tap, toArray } from 'rxjs';
import { useTinyGpt2 } from '../helpers/tinyGpt2.js';
import { ConfigError } from '../../src/errors.js';
import { modelActivations, stopLayerFor } from '../../src/operators/modelActivations.js';
import { packContext } from '../../src/operators/packContext.js';
import type { TokenBatch } from '../../src/stream/TokenBatch.js';
import { fromPull } from '../../src/sources/fromPull.js';
import type { Document } from '../../src/stream/Document.js';

const { withModel: t0, model } = useTinyGpt2('modelActivations');

const N = 2;
const CTX = 8;
const batchOf = (seed: number): TokenBatch => {
  const tokens = new Int32Array(N * CTX);
  for (let i = 0; i < tokens.length; i++) tokens[i] = (seed * 7919 + i * 104729) % 50257;
  tokens[0] = 50256;
  return { tokens, n: N, contextSize: CTX };
};
const run = (b: TokenBatch, opts: Parameters<typeof modelActivations>[1]) => lastValueFrom(of(b).pipe(modelActivations(model(), opts)));
const reference = (b: TokenBatch, names: string[]) => {
  const tokens = tf.tensor2d(b.tokens, [b.n, b.contextSize], 'int32');
  const r = model().runWithCache(tokens, { names, returnType: 'logits' });
  tokens.dispose();
  return r;
};
const close = (t: { true: (v: boolean, m?: string) => void }, a: tf.Tensor, b: tf.Tensor, what: string) => {
  t.true(a.shape.join() === b.shape.join(), `${what}: shape [${a.shape}] vs [${b.shape}]`);
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
  t.true(d < 1e-5, `${what}: max diff ${d}`);
};

t0('one hook: [n·ctx, d_model] rows equal runWithCache, with token ids and positions, no leaks', async (t) => {
  const before = tf.memory().numTensors;
  const b = batchOf(1);
  const out = await run(b, { hooks: ['blocks.1.hook_resid_pre'] });
  t.deepEqual(out.acts.shape, [N * CTX, 128]);
  t.deepEqual(out.hooks, ['blocks.1.hook_resid_pre']);
  t.deepEqual(Array.from(out.tokens!), Array.from(b.tokens));
  t.deepEqual(Array.from(out.positions!.slice(0, CTX + 1)), [0, 1, 2, 3, 4, 5, 6, 7, 0]);
  const ref = reference(b, ['blocks.1.hook_resid_pre']);
  const want = tf.reshape(ref.cache.get('blocks.1.hook_resid_pre')!, [N * CTX, 128]);
  close(t, out.acts, want, 'resid_pre 1');
  tf.dispose([out.acts, want, ref.logits!, ...ref.cache.values()]);
  t.is(tf.memory().numTensors, before);
});

t0('several layers (hook_point_layer as a list): [n·ctx, hooks, d_model] in hook order', async (t) => {
  const before = tf.memory().numTensors;
  const b = batchOf(2);
  const hooks = ['blocks.2.hook_resid_post', 'blocks.0.hook_mlp_out'];
  const out = await run(b, { hooks });
  t.deepEqual(out.acts.shape, [N * CTX, 2, 128]);
  const ref = reference(b, hooks);
  hooks.forEach((h, i) => {
    const got = tf.tidy(() => tf.squeeze(tf.slice(out.acts, [0, i, 0], [-1, 1, -1]), [1]));
    const want = tf.reshape(ref.cache.get(h)!, [N * CTX, 128]);
    close(t, got, want, h);
    tf.dispose([got, want]);
  });
  tf.dispose([out.acts, ref.logits!, ...ref.cache.values()]);
  t.is(tf.memory().numTensors, before);
});

t0('per-head hooks: all heads flattened to heads·d_head, or one head with headIndex', async (t) => {
  const before = tf.memory().numTensors;
  const b = batchOf(3);
  const h = 'blocks.1.attn.hook_z';
  const all = await run(b, { hooks: [h] });
  const one = await run(b, { hooks: [h], headIndex: 2 });
  t.deepEqual(all.acts.shape, [N * CTX, 128]);
  t.deepEqual(one.acts.shape, [N * CTX, 32]);
  const ref = reference(b, [h]);
  const z = ref.cache.get(h)!; // [n, ctx, heads, d_head]
  const wantAll = tf.reshape(z, [N * CTX, 128]);
  const wantOne = tf.tidy(() => tf.reshape(tf.slice(z, [0, 0, 2, 0], [-1, -1, 1, -1]), [N * CTX, 32]));
  close(t, all.acts, wantAll, 'z all heads');
  close(t, one.acts, wantOne, 'z head 2');
  tf.dispose([all.acts, one.acts, wantAll, wantOne, ref.logits!, ...ref.cache.values()]);
  t.is(tf.memory().numTensors, before);
});

t0('stop layer: SAELens max(layer)+1, resid_pre of L needs blocks < L; bad options are ConfigErrors', (t) => {
  t.is(stopLayerFor(['blocks.1.hook_resid_pre'], 4), 1);
  t.is(stopLayerFor(['blocks.1.hook_mlp_out', 'blocks.0.hook_resid_pre'], 4), 2);
  t.is(stopLayerFor(['hook_embed'], 4), 0);
  t.is(stopLayerFor(['ln_final.hook_normalized'], 4), undefined);
  t.throws(() => modelActivations(model(), { hooks: ['blocks.9.hook_resid_pre'] }), { instanceOf: ConfigError, message: /not a hook point/ });
  t.throws(() => modelActivations(model(), { hooks: ['blocks.0.hook_resid_pre'], headIndex: 0 }), { instanceOf: ConfigError, message: /no head axis/ });
  t.throws(() => modelActivations(model(), { hooks: ['blocks.0.attn.hook_z'], headIndex: 4 }), { instanceOf: ConfigError, message: /headIndex/ });
  t.throws(() => modelActivations(model(), { hooks: ['blocks.0.hook_resid_pre', 'blocks.0.mlp.hook_post'] }), { message: /different widths/ });
});

t0('a model error reaches the subscriber naming the stage, and frees everything', async (t) => {
  const before = tf.memory().numTensors;
  const bad: TokenBatch = { tokens: Int32Array.from([1, 2, 99999, 3]), n: 1, contextSize: 4 };
  await t.throwsAsync(lastValueFrom(from([bad]).pipe(modelActivations(model(), { hooks: ['blocks.0.hook_resid_post'] }))), {
    message: /modelActivations/,
  });
  t.is(tf.memory().numTensors, before);
});

t0('pacing: behind a pull source the forward pass runs only when the consumer takes a batch', async (t) => {
  const before = tf.memory().numTensors;
  let docsRead = 0;
  let forwards = 0;
  const received: number[] = [];
  // an endless document source
  const docs$ = fromPull<Document>(function* () {
    for (let i = 0; ; i++) {
      docsRead++;
      yield { tokens: Int32Array.from({ length: 10 }, (_, j) => (i * 10 + j) % 50000) };
    }
  });
  const out = await lastValueFrom(
    docs$.pipe(
      packContext({ contextSize: CTX, prependBos: true, bosToken: 50256, storeBatchSize: 2 }),
      modelActivations(model(), { hooks: ['blocks.0.hook_resid_post'], onForward: () => forwards++ }),
      take(3),
      toArray(),
    ),
  ).then((bs) => {
    // a slow consumer: each batch is checked (and freed) only now; nothing ran ahead
    for (const b of bs) {
      received.push(forwards);
      b.acts.dispose();
    }
    return bs;
  });
  t.is(out.length, 3);
  t.is(forwards, 3, 'exactly as many forward passes as batches taken');
  t.true(docsRead <= 3 * 2 + 1, `documents read ${docsRead}`);
  t.is(tf.memory().numTensors, before);
});

t0('pacing with a slow synchronous consumer: the model is never more than the batch in hand ahead', async (t) => {
  let forwards = 0;
  let consumed = 0;
  let maxAhead = 0;
  const docs$ = fromPull<Document>(function* () {
    for (let i = 0; i < 100; i++) yield { tokens: Int32Array.from({ length: 12 }, (_, j) => (i * 12 + j + 1) % 50000) };
  });
  await new Promise<void>((resolve, reject) =>
    docs$
      .pipe(packContext({ contextSize: CTX, prependBos: true, bosToken: 50256, storeBatchSize: 2 }), modelActivations(model(), { hooks: ['blocks.0.hook_resid_post'], onForward: () => forwards++ }), take(6))
      .subscribe({
        next: (b) => {
          maxAhead = Math.max(maxAhead, forwards - consumed);
          const until = Date.now() + 20; // slow work
          while (Date.now() < until);
          b.acts.dispose();
          consumed++;
        },
        error: reject,
        complete: resolve,
      }),
  );
  t.is(consumed, 6);
  t.is(forwards, 6);
  t.is(maxAhead, 1, 'the batch in hand only');
});

t0('an unsubscribe during a synchronous source reaches the source at once (no forward passes after take)', async (t) => {
  let forwards = 0;
  let docsRead = 0;
  const docs = Array.from({ length: 200 }, (_, i): Document => ({ tokens: Int32Array.from({ length: 16 }, (_, j) => (i * 16 + j) % 50000) }));
  const out = await lastValueFrom(
    from(docs).pipe(
      tap(() => docsRead++),
      packContext({ contextSize: CTX, prependBos: false, storeBatchSize: 2 }),
      modelActivations(model(), { hooks: ['blocks.0.hook_resid_post'], onForward: () => forwards++ }),
      take(2),
      toArray(),
    ),
  );
  out.forEach((b) => b.acts.dispose());
  t.is(forwards, 2);
  t.true(docsRead <= 4, `documents read ${docsRead}`);
});

t0('targetHook (transcoders): one forward pass gives acts of the input hook and target rows of the output hook, row-aligned', async (t) => {
  const before = tf.memory().numTensors;
  const b = batchOf(3);
  let forwards = 0;
  const out = await run(b, { hooks: ['blocks.1.ln2.hook_normalized'], targetHook: 'blocks.1.hook_mlp_out', onForward: () => forwards++ });
  t.is(forwards, 1, 'one forward pass for both hooks');
  t.deepEqual(out.hooks, ['blocks.1.ln2.hook_normalized']);
  t.is(out.targetHook, 'blocks.1.hook_mlp_out');
  t.deepEqual(out.target!.shape, [N * CTX, 128]);
  const ref = reference(b, ['blocks.1.ln2.hook_normalized', 'blocks.1.hook_mlp_out']);
  const wantX = tf.reshape(ref.cache.get('blocks.1.ln2.hook_normalized')!, [N * CTX, 128]);
  const wantY = tf.reshape(ref.cache.get('blocks.1.hook_mlp_out')!, [N * CTX, 128]);
  close(t, out.acts, wantX, 'ln2.hook_normalized');
  close(t, out.target!, wantY, 'hook_mlp_out');
  tf.dispose([out.acts, out.target!, wantX, wantY, ref.logits!, ...ref.cache.values()]);
  t.is(tf.memory().numTensors, before);
});

t0('targetHook: an unknown target hook or several input hooks is a ConfigError naming it', (t) => {
  t.throws(() => modelActivations(model(), { hooks: ['blocks.1.ln2.hook_normalized'], targetHook: 'blocks.1.hook_mlp_outt' }), { instanceOf: ConfigError, message: /'blocks\.1\.hook_mlp_outt' is not a hook point/ });
  t.throws(() => modelActivations(model(), { hooks: ['blocks.0.hook_resid_pre', 'blocks.1.hook_resid_pre'], targetHook: 'blocks.1.hook_mlp_out' }), { instanceOf: ConfigError, message: /targetHook 'blocks\.1\.hook_mlp_out' needs exactly one input hook/ });
});
