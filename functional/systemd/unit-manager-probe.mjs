// Runs INSIDE a harness machine, where the machine's paths and system bus are the real ones:
// drives the compiled UnitManager (dist/) against the machine's systemd. One JSON request
// per stdin line ({ id, op, args }), answered concurrently, one JSON message per stdout line:
// { ready } once connected, { id, result } or { id, error }, { change } per onChange call and
// { log } per log line. Usage: node unit-manager-probe.mjs <unitsDirectory> <callTimeoutMs>
import { createInterface } from 'node:readline';
import pino from 'pino';
import { createSystemdUnitManager } from '../../dist/systemd/index.js';

const [unitsDirectory, callTimeoutMs] = process.argv.slice(2);
const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
const log = pino({ level: 'debug' }, { write: (line) => send({ log: JSON.parse(line) }) });

let manager;
try {
  manager = await createSystemdUnitManager({
    unitsDirectory,
    userBus: false,
    log,
    callTimeoutMs: Number(callTimeoutMs),
  });
} catch (err) {
  send({ fatal: err.message });
  process.exit(1);
}
manager.onChange(() => send({ change: true }));
send({ ready: true });

for await (const line of createInterface({ input: process.stdin })) {
  const { id, op, args } = JSON.parse(line);
  manager[op](...args).then(
    (result) => send({ id, result: result instanceof Map ? Object.fromEntries(result) : null }),
    (err) => send({ id, error: { name: err.name, message: err.message } }),
  );
}
await manager.close();
