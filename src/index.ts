/**
 * The public API of sae-rx. Everything a user may import is re-exported here; nothing else is
 * public. Each area keeps its exports in its own section.
 */
export * from './errors.js';

// --- stream ---
export * from './stream/index.js';

// --- backend ---
export * from './backend/index.js';

// --- io ---
export * from './io/safetensors.js';
export * from './io/atomicWrite.js';
export * from './io/parquet.js';

// --- config ---
export * from './config/index.js';

// --- sae ---
export * from './sae/index.js';

// --- train ---
export * from './train/index.js';
export * from './train/resume.js';

// --- model ---
export * from './model/index.js';

// --- hub ---
export * from './hub/index.js';

// --- sources ---
export * from './sources/documents.js';
export * from './sources/localDocuments.js';
export * from './sources/hfDataset.js';
export * from './sources/fromPull.js';
export * from './sources/fromActivations.js';
export * from './sources/toyModel.js';
export * from './sources/toyActivations.js';
export * from './sources/cachedActivations.js';

// --- operators ---
export * from './operators/batch.js';
export * from './operators/shuffle.js';
export * from './operators/mixingBuffer.js';
export * from './operators/normalizeActivations.js';
export * from './operators/trainSae.js';
export * from './operators/packContext.js';
export * from './operators/modelActivations.js';
export * from './operators/evaluate.js';

// --- sinks ---
export * from './sinks/sinks.js';
export * from './sinks/consoleSink.js';
export * from './sinks/jsonlSink.js';
export * from './sinks/wandb.js';
export * from './sinks/report/index.js';

// --- analysis ---
export * from './analysis/index.js';

// --- runners ---
export * from './runners/trainingRun.js';
export * from './runners/languageModelRunner.js';
export * from './runners/toyModelRunner.js';
export * from './runners/cacheActivationsRunner.js';
export * from './runners/configMapping.js';
