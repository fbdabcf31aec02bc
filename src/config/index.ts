export { parseGoDuration } from '../go/duration.js';
export {
  ConfigError,
  type ConfigNotice,
  DEFAULT_CONFIG_PATH,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
} from './load.js';
export type { FleetConfig } from './schema.js';
export { deriveTimings, type FleetTimings } from './timings.js';
