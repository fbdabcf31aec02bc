// Lets plain `node` run the cluster tool's TypeScript (and the harness and src/ modules it
// imports) without a build step: `node --import ./cluster/register.mjs <file.ts>`.
// The product's build compiles only src/; the functional harness stays TypeScript.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
