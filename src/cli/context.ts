/** What every command needs first: the config (with or without the calendar password). */
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { GlobalOptions } from './main.js';

export function configFor(g: GlobalOptions, opts: { withPassword?: boolean } = {}): Config {
  return loadConfig({ path: g.config, withPassword: opts.withPassword });
}
