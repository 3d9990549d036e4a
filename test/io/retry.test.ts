import test from 'ava';
import { RetryStoppedError, backoffDelay, isTransientHttpStatus, retryWithBackoff } from '../../src/io/retry.js';

test('backoffDelay: exponential from the initial delay, capped, Retry-After first, jitter on top', (t) => {
  const p = { initialDelayMs: 100, maxDelayMs: 1000, factor: 3 };
  t.deepEqual([0, 1, 2, 3].map((n) => backoffDelay(p, n)), [100, 300, 900, 1000]);
  t.is(backoffDelay(p, 0, '0.5'), 500);
  t.is(backoffDelay(p, 0, '60'), 1000, 'Retry-After is capped too');
  t.is(backoffDelay({ ...p, jitter: 0.25 }, 0, null, () => 1), 125);
});

test('retryWithBackoff: retries what is retryable up to maxRetries, throws the rest as it was', async (t) => {
  const waits: number[] = [];
  const sleep = async (ms: number) => void waits.push(ms);
  let calls = 0;
  const v = await retryWithBackoff(async (n) => {
    calls++;
    if (n < 2) throw new Error('flaky');
    return n;
  }, { policy: { initialDelayMs: 10, maxDelayMs: 100 }, retryable: () => true, sleep });
  t.is(v, 2);
  t.is(calls, 3);
  t.deepEqual(waits, [10, 20]);

  const permanent = new Error('401');
  await t.throwsAsync(retryWithBackoff(async () => { throw permanent; }, { policy: { initialDelayMs: 1, maxDelayMs: 1 }, retryable: (e) => e !== permanent, sleep }), { is: permanent });
  let tries = 0;
  await t.throwsAsync(retryWithBackoff(async () => { tries++; throw new Error('down'); }, { policy: { initialDelayMs: 1, maxDelayMs: 1 }, retryable: () => true, maxRetries: 3, sleep }), { message: 'down' });
  t.is(tries, 4, 'one attempt and 3 retries');
  let stop = false;
  await t.throwsAsync(retryWithBackoff(async () => { stop = true; throw new Error('x'); }, { policy: { initialDelayMs: 1, maxDelayMs: 1 }, retryable: () => true, sleep, stopped: () => stop }), { instanceOf: RetryStoppedError });
  t.true([500, 503, 429, 408].every(isTransientHttpStatus));
  t.false([400, 401, 404].some(isTransientHttpStatus));
});
