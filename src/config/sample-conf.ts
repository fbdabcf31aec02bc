/**
 * The fleet.conf the packages ship: every option commented out with its default and a line
 * on what it does, generated from the schema so that no option is ever missing.
 */

import { DEFAULT_CONFIG_PATH } from './load.js';
import { OPTION_DESCRIPTIONS } from './option-descriptions.js';
import { OPTION_NAMES, type OptionName, optionsSchema } from './schema.js';

const HEADER = [
  `# fleetd configuration (${DEFAULT_CONFIG_PATH}), read when fleetd starts and again on SIGHUP`,
  '# (systemctl kill -s SIGHUP fleet). FLEET_<OPTION> environment variables override it.',
  '# Every option is listed, commented out, with its default: uncomment what you change.',
  '# Every machine of a cluster needs the same etcd_servers and etcd_key_prefix.',
];

/** The default as fleet.conf text: quoted when goini would otherwise cut or trim it. */
function iniValue(text: string): string {
  return /[#;]|^\s|\s$/.test(text) ? `"${text}"` : text;
}

export function defaultText(name: OptionName): string {
  return optionsSchema.shape[name].def.defaultValue;
}

export function renderSampleConf(): string {
  const blocks = OPTION_NAMES.map((name) => {
    const value = iniValue(defaultText(name));
    return `# ${OPTION_DESCRIPTIONS[name]}\n#${name} =${value === '' ? '' : ` ${value}`}`;
  });
  return `${HEADER.join('\n')}\n\n${blocks.join('\n\n')}\n`;
}
