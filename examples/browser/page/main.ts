/**
 * The demo page: picks the tfjs backend (`?backend=` or the first that starts), then sets up
 * part 1 (toy model → SAE, trained live) and part 2 (tiny GPT-2 + SAE, explored).
 * `?parts=toy` sets up part 1 only (the browser tests of part 1 use it: no model download).
 * `document.body.dataset` carries each part's state for the browser tests.
 */
import { chooseBackend } from './backend.js';
import { CHART_CSS } from './saeRx.js';
import { setUpLmDemo } from './lmDemo.js';
import { setUpToyDemo } from './toyDemo.js';

function fatal(message: string): void {
  const el = document.getElementById('fatal')!;
  el.textContent = message;
  el.hidden = false;
  document.body.dataset['state'] = 'failed';
}

async function main(): Promise<void> {
  // the charts' stylesheet, as the report and the dashboards have it
  const chartCss = document.createElement('style');
  chartCss.textContent = CHART_CSS;
  document.head.append(chartCss);
  const params = new URLSearchParams(location.search);
  let backend: string;
  try {
    const choice = await chooseBackend(params.get('backend'));
    backend = choice.name;
    if (choice.skipped) document.getElementById('backend')!.title = `skipped ${choice.skipped}`;
  } catch (e) {
    document.getElementById('backend')!.textContent = 'none';
    fatal((e as Error).message);
    return;
  }
  document.getElementById('backend')!.textContent = backend;
  document.getElementById('footer-backend')!.textContent = `tfjs backend: ${backend}`;
  document.body.dataset['backend'] = backend;
  setUpToyDemo(backend);
  document.body.dataset['state'] = 'ready';
  if (params.get('parts') === 'toy') {
    const msg = document.getElementById('lm-message')!;
    msg.textContent = 'This part is off (?parts=toy in the address).';
    msg.hidden = false;
    document.body.dataset['lm'] = 'off';
    return;
  }
  try {
    await setUpLmDemo();
  } catch (e) {
    const msg = document.getElementById('lm-message')!;
    msg.textContent = `The tiny GPT-2 part could not start: ${(e as Error).message}`;
    msg.hidden = false;
    msg.classList.add('error');
    document.body.dataset['lm'] = 'failed';
  }
}

void main();
