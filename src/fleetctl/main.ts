import { runFleetctl } from './run.js';

// A reader that closed the pipe (`fleetctl list-units | head -1`) ends fleetctl quietly,
// as SIGPIPE ended the Go binary.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(141);
    throw err;
  });
}

const status = await runFleetctl({
  argv: process.argv.slice(2),
  env: process.env,
  cwd: process.cwd(),
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
});
// Go's os.Exit(-1) is status 255.
process.exit(status & 0xff);
