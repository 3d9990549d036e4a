/**
 * Layering of sae-rx (DESIGN.md §1), checked by `npm run depcheck` and in `.ci/run`.
 *
 * Imports point DOWN one stack, never up, and never around a cycle; type-only imports count
 * (tsPreCompilationDeps keeps them in the graph). A folder of src/ that is not listed in
 * LAYERS below fails the check, so a new folder has to be placed in the stack on purpose.
 */
const LAYERS = [
  // platform: what differs between Node and a page (node.ts; its browser twin browser.ts is
  // swapped in by scripts/buildBrowser.mjs). Imports nothing of sae-rx.
  ['platform'],
  // 0: what flows, and the codecs / kernels / config everything else stands on.
  ['stream', 'io', 'backend', 'config'],
  // 1: plain functions on tensors and files (no Rx).
  ['sae', 'train', 'model', 'hub', 'store'],
  // 2: the stream stages.
  ['sources', 'operators', 'sinks', 'analysis'],
  // 3: whole pipelines from one config.
  ['runners'],
  // 4: the same runs as jobs across machines.
  ['cluster'],
  // 5: the command line.
  ['cli'],
];
// stream/ holds the Rx plumbing every stage shares (types and subscribe helpers), so it may use rxjs.
const NO_RX = ['platform', ...LAYERS[1].filter((l) => l !== 'stream'), ...LAYERS[2]];
const ALL = LAYERS.flat();
const group = (names) => `^src/(${names.join('|')})/`;

const upward = LAYERS.slice(0, -1).map((names, i) => ({
  name: `layer-${i}-imports-upward`,
  comment: `${names.join(', ')} (layer ${i} of DESIGN §1) may import only from its own layer or below`,
  severity: 'error',
  from: { path: group(names) },
  to: { path: group(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      comment: 'modules must not import each other around a cycle (type-only imports count)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...upward,
    {
      name: 'errors-is-bottom',
      comment: 'src/errors.ts sits below every layer and imports nothing of sae-rx',
      severity: 'error',
      from: { path: '^src/errors\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'index-is-top',
      comment: 'src/index.ts is the public entry: nothing inside src/ imports it',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'browser-entry-is-top',
      comment: 'src/browser.ts is the browser entry: nothing inside src/ imports it',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/browser\\.ts$' },
    },
    {
      name: 'browser-twin-not-imported',
      comment: 'a browser twin (src/platform/browser.ts, *.browser.ts) is swapped in by the browser build; nothing imports it by name',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/(platform/browser|.*\\.browser)\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'platform-side-not-imported',
      comment: 'code imports src/platform/index.ts, never one side of the boundary (node.ts / browser.ts) directly',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/platform/' },
      to: { path: '^src/platform/(node|browser)\\.ts$' },
    },
    {
      name: 'library-not-cli',
      comment: 'the public entry does not pull in the command line',
      severity: 'error',
      from: { path: '^src/(index|browser)\\.ts$' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-not-outside',
      comment: 'src/ never imports tests, examples, benchmarks or scripts',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|examples|bench|scripts)/' },
    },
    {
      name: 'no-rx-below-streams',
      comment: `${NO_RX.join(', ')} are plain functions (DESIGN §1): no RxJS there`,
      severity: 'error',
      from: { path: group(NO_RX) },
      to: { path: '(^|/)node_modules/rxjs/' },
    },
    {
      name: 'unplaced-folder',
      comment: 'every folder of src/ has a place in the layers of DESIGN §1 (.dependency-cruiser.cjs LAYERS)',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: group(ALL) },
      to: {},
    },
    {
      name: 'unresolvable',
      comment: 'an import that resolves to nothing',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
