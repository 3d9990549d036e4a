export * from './SaeConfig.js';
export * from './Sae.js';
export * from './ops.js';
export * from './init.js';
export * from './losses.js';
export * from './geometricMedian.js';
export * from './cfgJson.js';
export * from './saeFolder.js';
