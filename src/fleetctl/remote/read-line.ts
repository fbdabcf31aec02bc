import type { Readable } from 'node:stream';

/**
 * Reads one line (without its `\n`, and a `\r` before it) from a stream, leaving what
 * follows unread for whoever reads next, as Go's unbuffered `fmt.Scanf` on os.Stdin did: the
 * rest of stdin still goes to the remote command. Resolves null at the end of the stream
 * with nothing read.
 */
export function readLine(input: NodeJS.ReadableStream): Promise<string | null> {
  const stream = input as Readable;
  if (stream.readableEnded === true) return Promise.resolve(null);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const finish = (line: string | null) => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onEnd);
      resolve(line === null ? null : line.replace(/\r$/, ''));
    };
    const onReadable = () => {
      for (let chunk = stream.read(); chunk !== null; chunk = stream.read()) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
        const newline = bytes.indexOf(0x0a);
        if (newline < 0) {
          chunks.push(bytes);
          continue;
        }
        chunks.push(bytes.subarray(0, newline));
        const rest = bytes.subarray(newline + 1);
        if (rest.length > 0) stream.unshift(rest);
        finish(Buffer.concat(chunks).toString('utf8'));
        return;
      }
    };
    const onEnd = () => {
      finish(chunks.length === 0 ? null : Buffer.concat(chunks).toString('utf8'));
    };
    stream.on('readable', onReadable);
    stream.on('end', onEnd);
    stream.on('error', onEnd);
  });
}
