/**
 * folderIo.ts in a page (the browser build substitutes this file): there is no file system to
 * write checkpoint folders to, resume from, or load SAE folders from by path, so each is a
 * ConfigError naming the option. In a page an SAE trains in memory (TrainSaeHandle, the `done`
 * record) and SAE folders load from a URL, the Hub or dropped files (src/hub/folders.ts).
 */
import { ConfigError } from '../errors.js';
import type * as NodeIo from './folderIo.js';

export const writeCheckpoint: typeof NodeIo.writeCheckpoint = (dir) => {
  throw new ConfigError(`checkpointPath: cannot write the checkpoint ${dir}: a page has no file system (leave checkpointPath unset in the browser)`);
};

export const readCheckpointState: typeof NodeIo.readCheckpointState = async (dir) => {
  throw new ConfigError(`resume: cannot read the checkpoint ${dir}: a page has no file system`);
};

export const loadSae: typeof NodeIo.loadSae = async (dir) => {
  throw new ConfigError(`loadSae: cannot read the SAE folder ${dir}: a page has no file system (evaluate: pass loadSae, or fromCheckpoints: false)`);
};
