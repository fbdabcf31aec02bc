// Prints the commented fleet.conf of the package whose files are in the directory given
// (its dist/ and node_modules/), so the file always matches the schema it ships.
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const lib = resolve(process.argv[2] ?? '.');
const { renderSampleConf } = await import(
  pathToFileURL(join(lib, 'dist', 'config', 'sample-conf.js')).href
);
process.stdout.write(renderSampleConf());
