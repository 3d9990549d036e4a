import test from 'ava';
import { BackendError } from '../../src/errors.js';
import { setWasmBinariesUrl, wasmBinariesUrl } from '../../src/platform/wasmBinaries.js';

test('setWasmBinariesUrl: a folder URL (a trailing / added); an empty or unresolvable one is a BackendError naming it', (t) => {
  const before = wasmBinariesUrl();
  t.true(before.endsWith('/'));
  t.throws(() => setWasmBinariesUrl(''), { instanceOf: BackendError, message: /setWasmBinariesUrl: url .* is empty/ });
  // in Node there is no page to resolve a relative URL against
  t.throws(() => setWasmBinariesUrl('wasm/'), { instanceOf: BackendError, message: /"wasm\/" is not a URL \(outside a page, give an absolute one\)/ });
  t.is(wasmBinariesUrl(), before, 'a refused URL changes nothing');
  setWasmBinariesUrl('https://cdn.example/tfjs-wasm');
  t.is(wasmBinariesUrl(), 'https://cdn.example/tfjs-wasm/');
});
